{{/* The Pod admission webhook: names, TLS mode and the config.webhook section the chart renders. */}}

{{/* The self-managed TLS Secret, or cert-manager's Certificate Secret, in the release namespace. */}}
{{- define "ipsp.webhookTlsSecretName" -}}
{{- .Values.webhook.tls.secretName | default (printf "%s-webhook-tls" (include "ipsp.fullname" .)) -}}
{{- end -}}

{{/* Where cert-manager's Secret is mounted; not under /etc/imagepullsecret-patcher (the ConfigMap volume). */}}
{{- define "ipsp.webhookCertDir" -}}
/var/run/imagepullsecret-patcher/webhook-tls
{{- end -}}

{{/* self-managed or files; cert-manager's Certificate is read as files. */}}
{{- define "ipsp.webhookTlsMode" -}}
{{- if .Values.webhook.certManager.enabled -}}
files
{{- else if has .Values.webhook.tls.mode (list "self-managed" "files") -}}
{{- .Values.webhook.tls.mode -}}
{{- else -}}
{{- fail (printf "webhook.tls.mode %v: use self-managed or files" .Values.webhook.tls.mode) -}}
{{- end -}}
{{- end -}}

{{/*
Sets $cfg.webhook from the webhook values (enabled, address, the chart's Service, the configuration
named after the release, TLS), keeping other keys of config.webhook; with the webhook off, refuses
a config that needs it. Called by ipsp.config with (dict "cfg" $cfg "top" $); changes $cfg in place.
*/}}
{{- define "ipsp.applyWebhook" -}}
{{- $cfg := .cfg -}}
{{- $top := .top -}}
{{- $values := $top.Values.webhook -}}
{{- $hook := deepCopy (get $cfg "webhook" | default dict) -}}
{{- if not (kindIs "map" $hook) -}}
  {{- fail "config.webhook must be a map; turn the webhook on with webhook.enabled" -}}
{{- end -}}
{{- if not $values.enabled -}}
  {{- if $hook.enabled -}}
    {{- fail "config.webhook.enabled needs webhook.enabled: true (the chart then renders the Service port, the MutatingWebhookConfiguration and their RBAC)" -}}
  {{- end -}}
  {{- range $i, $m := (kindIs "slice" $cfg.mappings | ternary $cfg.mappings list) -}}
    {{- if and (kindIs "map" $m) (eq (toString (get $m "podAdmission")) "true") -}}
      {{- fail (printf "config.mappings[%d].podAdmission needs the webhook: set webhook.enabled: true" $i) -}}
    {{- end -}}
  {{- end -}}
{{- else -}}
  {{- $timeout := int $values.timeoutSeconds -}}
  {{- if or (lt $timeout 1) (gt $timeout 30) -}}
    {{- fail (printf "webhook.timeoutSeconds %v: must be 1 to 30" $values.timeoutSeconds) -}}
  {{- end -}}
  {{- $fullname := include "ipsp.fullname" $top -}}
  {{- $_ := unset $hook "url" -}}
  {{- $_ := set $hook "enabled" true -}}
  {{- $_ := set $hook "address" (printf ":%d" (int $values.port)) -}}
  {{- $_ := set $hook "service" (dict "name" $fullname "namespace" $top.Release.Namespace "port" 443) -}}
  {{- $_ := set $hook "configurationName" $fullname -}}
  {{- $_ := set $hook "manageConfiguration" true -}}
  {{- $_ := set $hook "timeoutSeconds" $timeout -}}
  {{- $tls := deepCopy (get $hook "tls" | default dict) -}}
  {{- $mode := include "ipsp.webhookTlsMode" $top -}}
  {{- $_ := set $tls "mode" $mode -}}
  {{- $_ := unset $tls "secretNamespace" -}}
  {{- if $top.Values.webhook.certManager.enabled -}}
    {{- $dir := include "ipsp.webhookCertDir" $top -}}
    {{- $_ := unset $tls "secretName" -}}
    {{- $_ := set $tls "certFile" (printf "%s/tls.crt" $dir) -}}
    {{- $_ := set $tls "keyFile" (printf "%s/tls.key" $dir) -}}
    {{- $_ := set $tls "caFile" (printf "%s/ca.crt" $dir) -}}
  {{- else if eq $mode "self-managed" -}}
    {{- $_ := set $tls "secretName" (include "ipsp.webhookTlsSecretName" $top) -}}
  {{- else if not (and $tls.certFile $tls.keyFile) -}}
    {{- fail "webhook.tls.mode files needs config.webhook.tls.certFile and keyFile (mount them with extraVolumes/extraVolumeMounts), or webhook.certManager.enabled" -}}
  {{- end -}}
  {{- $_ := set $hook "tls" $tls -}}
  {{- $_ := set $cfg "webhook" $hook -}}
{{- end -}}
{{- end -}}

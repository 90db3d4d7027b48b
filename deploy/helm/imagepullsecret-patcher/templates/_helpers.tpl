{{/* Chart name, at most 63 characters. */}}
{{- define "ipsp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release full name, used for every object's name. */}}
{{- define "ipsp.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "ipsp.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ipsp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "ipsp.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "ipsp.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "ipsp.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "ipsp.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Lease: leaderElection.leaseName, else config.leaderElection.name, else the full name. */}}
{{- define "ipsp.leaseName" -}}
{{- $le := get (.Values.config | default dict) "leaderElection" | default dict -}}
{{- .Values.leaderElection.leaseName | default $le.name | default (include "ipsp.fullname" .) -}}
{{- end -}}

{{/* The Lease's namespace: config.leaderElection.namespace, else the release namespace (POD_NAMESPACE). */}}
{{- define "ipsp.leaseNamespace" -}}
{{- $le := get (.Values.config | default dict) "leaderElection" | default dict -}}
{{- $le.namespace | default .Release.Namespace -}}
{{- end -}}

{{/*
The config.yaml the patcher reads, as JSON: .Values.config, or the seed form when it sets neither
`source` nor `mappings`; leaderElection.enabled/name come from the chart's leaderElection values. (The seed default lives here, not in values.yaml, because Helm merges maps:
a user's `source: {file: ...}` would otherwise be merged with a default `source: {secret: ...}`.)
*/}}
{{- define "ipsp.config" -}}
{{- $cfg := deepCopy (.Values.config | default dict) -}}
{{- if hasKey $cfg "mappings" -}}
  {{- if not $cfg.mappings -}}
    {{- fail "config.mappings is empty: list at least one mapping, or remove it for the seed form" -}}
  {{- end -}}
  {{- if $cfg.source -}}
    {{- fail "config sets both `source` (seed form) and `mappings`: use one" -}}
  {{- end -}}
{{- else if not $cfg.source -}}
  {{- $_ := set $cfg "source" (dict "secret" (dict "name" "regcred" "namespace" "kube-system")) -}}
{{- end -}}
{{- /* leaderElection.enabled in values decides, so the Lease RBAC and the config always agree. */ -}}
{{- $le := deepCopy (get $cfg "leaderElection" | default dict) -}}
{{- $_ := set $le "enabled" (.Values.leaderElection.enabled | default false) -}}
{{- if .Values.leaderElection.enabled -}}
  {{- $_ := set $le "name" (include "ipsp.leaseName" .) -}}
{{- end -}}
{{- $_ := set $cfg "leaderElection" $le -}}
{{- toJson $cfg -}}
{{- end -}}

{{/*
What RBAC needs from the config, as JSON:
  copyNames: every Secret name the patcher writes into target namespaces (each mapping's
             secretName, else the top-level secretName, else "image-pull-secret"), plus
             rbac.extraSecretNames; sorted, unique.
  sources:   {namespace: [names]} of every `source.secret`; sorted, unique.
Fails on a config whose RBAC cannot be derived.
*/}}
{{- define "ipsp.rbacFacts" -}}
{{- $cfg := include "ipsp.config" . | fromJson -}}
{{- $defaultName := $cfg.secretName | default "image-pull-secret" -}}
{{- $copies := list -}}
{{- $secretSources := list -}}
{{- if $cfg.mappings -}}
  {{- if not (kindIs "slice" $cfg.mappings) -}}
    {{- fail "config.mappings must be a list of mappings" -}}
  {{- end -}}
  {{- range $i, $m := $cfg.mappings -}}
    {{- if not (kindIs "map" $m) -}}
      {{- fail (printf "config.mappings[%d] must be a map" $i) -}}
    {{- end -}}
    {{- $copies = append $copies ($m.secretName | default $defaultName) -}}
    {{- if not (kindIs "map" $m.source) -}}
      {{- fail (printf "config.mappings[%d].source must be a map with one source type (secret, file, vault, ...)" $i) -}}
    {{- end -}}
    {{- if hasKey $m.source "secret" -}}
      {{- $secretSources = append $secretSources (dict "path" (printf "config.mappings[%d].source.secret" $i) "secret" $m.source.secret) -}}
    {{- end -}}
  {{- end -}}
{{- else if $cfg.source -}}
  {{- if not (kindIs "map" $cfg.source) -}}
    {{- fail "config.source must be a map with one source type (secret, file, vault, ...)" -}}
  {{- end -}}
  {{- $copies = append $copies $defaultName -}}
  {{- if hasKey $cfg.source "secret" -}}
    {{- $secretSources = append $secretSources (dict "path" "config.source.secret" "secret" $cfg.source.secret) -}}
  {{- end -}}
{{- else -}}
  {{- fail "config needs either `source` (seed form) or a non-empty `mappings` list" -}}
{{- end -}}
{{- $copies = concat $copies (.Values.rbac.extraSecretNames | default list) -}}
{{- range $copies -}}
  {{- if not (and (kindIs "string" .) (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$" .) (le (len .) 253)) -}}
    {{- fail (printf "%v is not a valid Secret name (DNS-1123 subdomain); check config.secretName, config.mappings[*].secretName and rbac.extraSecretNames" .) -}}
  {{- end -}}
{{- end -}}
{{- $byNamespace := dict -}}
{{- range $secretSources -}}
  {{- $s := .secret -}}
  {{- if not (kindIs "map" $s) -}}
    {{- fail (printf "%s must be a map with name and namespace" .path) -}}
  {{- end -}}
  {{- $name := required (printf "%s.name is required" .path) $s.name -}}
  {{- $ns := required (printf "%s.namespace is required" .path) $s.namespace -}}
  {{- $_ := set $byNamespace $ns (append (get $byNamespace $ns | default list) $name) -}}
{{- end -}}
{{- range $ns, $names := $byNamespace -}}
  {{- $_ := set $byNamespace $ns ($names | uniq | sortAlpha) -}}
{{- end -}}
{{- toJson (dict "copyNames" ($copies | uniq | sortAlpha) "sources" $byNamespace) -}}
{{- end -}}

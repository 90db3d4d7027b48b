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
`source` nor `mappings`; leaderElection.enabled/name come from the chart's leaderElection values,
config.webhook from the webhook values (_webhook.tpl). (The seed default lives here, not in values.yaml, because Helm merges maps:
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
{{- /* diagnostics.* in values decides, so the RBAC (clusterrole.yaml) and the config always agree. */ -}}
{{- $diag := .Values.diagnostics | default dict -}}
{{- if $diag.enabled -}}
  {{- $_ := set $cfg "diagnostics" (dict "enabled" true "deleteStuckPods" ($diag.deleteStuckPods | default false) "maxDeletesPerMinute" ($diag.maxDeletesPerMinute | default 10)) -}}
{{- else if hasKey $cfg "diagnostics" -}}
  {{- $_ := unset $cfg "diagnostics" -}}
{{- end -}}
{{- include "ipsp.applyWebhook" (dict "cfg" $cfg "top" .) -}}
{{- toJson $cfg -}}
{{- end -}}

{{/*
The `secret` source of one source value, or "" when it is another type: `{secret: {name, namespace}}`,
or the shorthand `{name, namespace}` (a `secret` source as well).
*/}}
{{- define "ipsp.secretSourceOf" -}}
{{- if and (kindIs "map" .) (hasKey . "secret") -}}
{{- toJson .secret -}}
{{- else if and (kindIs "map" .) (hasKey . "name") (hasKey . "namespace") -}}
{{- toJson (dict "name" .name "namespace" .namespace) -}}
{{- end -}}
{{- end -}}

{{/*
Refuses inline Vault credentials: the config is rendered into a ConfigMap, readable by anyone who
may read ConfigMaps in the namespace. The credential belongs in a Secret, mounted as a file.
*/}}
{{- define "ipsp.refuseInlineVaultCredentials" -}}
{{- $path := .path -}}
{{- $vault := .vault -}}
{{- if kindIs "map" $vault -}}
{{- $auth := get $vault "auth" | default dict -}}
{{- if kindIs "map" $auth -}}
{{- $token := get $auth "token" -}}
{{- if and (kindIs "map" $token) (hasKey $token "token") -}}
{{- fail (printf "%s.auth.token.token: the chart does not accept an inline Vault token (it would be stored in a ConfigMap). Put the token in a Secret, mount it with extraVolumes/extraVolumeMounts and set %s.auth.token.tokenFile to the mounted file (see docs/install.md, \"Vault credentials\")" $path $path) -}}
{{- end -}}
{{- $appRole := get $auth "appRole" -}}
{{- if and (kindIs "map" $appRole) (hasKey $appRole "secretId") -}}
{{- fail (printf "%s.auth.appRole.secretId: the chart does not accept an inline AppRole secret ID (it would be stored in a ConfigMap). Put it in a Secret, mount it with extraVolumes/extraVolumeMounts and set %s.auth.appRole.secretIdFile to the mounted file (see docs/install.md, \"Vault credentials\")" $path $path) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
What RBAC needs from the config, as JSON:
  copyNames:    every Secret name the patcher writes into target namespaces: each mapping's
                secretName, else the top-level secretName, else the source Secret's name for a
                `secret` source (never for merged `sources`), else "image-pull-secret"; plus
                rbac.extraSecretNames; sorted, unique.
  retiredNames: Secret names the patcher may still clean up (list, watch, delete only), but no longer
                writes: rbac.retiredSecretNames, plus, on `helm upgrade`, the copy names the release's
                current ClusterRole grants that the new config no longer has (see "Upgrades that
                remove a mapping" in docs/install.md); minus copyNames; sorted, unique.
  sources:      {namespace: [names]} of every `secret` source, in `source` or `sources`; sorted, unique.
Fails on a config whose RBAC cannot be derived, and on inline Vault credentials.
*/}}
{{- define "ipsp.rbacFacts" -}}
{{- $cfg := include "ipsp.config" . | fromJson -}}
{{- $copies := list -}}
{{- $secretSources := list -}}
{{- $entries := list -}}
{{- if $cfg.mappings -}}
  {{- if not (kindIs "slice" $cfg.mappings) -}}
    {{- fail "config.mappings must be a list of mappings" -}}
  {{- end -}}
  {{- range $i, $m := $cfg.mappings -}}
    {{- if not (kindIs "map" $m) -}}
      {{- fail (printf "config.mappings[%d] must be a map" $i) -}}
    {{- end -}}
    {{- if hasKey $m "sources" -}}
      {{- if or (not (kindIs "slice" $m.sources)) (empty $m.sources) -}}
        {{- fail (printf "config.mappings[%d].sources must be a non-empty list of sources" $i) -}}
      {{- end -}}
      {{- /* A merged copy is named secretName, else the top-level one, else image-pull-secret. */ -}}
      {{- $copies = append $copies ($m.secretName | default $cfg.secretName | default "image-pull-secret") -}}
      {{- range $j, $s := $m.sources -}}
        {{- if not (kindIs "map" $s) -}}
          {{- fail (printf "config.mappings[%d].sources[%d] must be a map with one source type (secret, file, vault, ecr, ...)" $i $j) -}}
        {{- end -}}
        {{- $entries = append $entries (dict "path" (printf "config.mappings[%d].sources[%d]" $i $j) "source" $s "merged" true) -}}
      {{- end -}}
    {{- else -}}
    {{- if not (kindIs "map" $m.source) -}}
      {{- fail (printf "config.mappings[%d].source must be a map with one source type (secret, file, vault, ...)" $i) -}}
    {{- end -}}
    {{- $entries = append $entries (dict "path" (printf "config.mappings[%d].source" $i) "source" $m.source "secretName" ($m.secretName | default "")) -}}
    {{- end -}}
  {{- end -}}
{{- else if $cfg.source -}}
  {{- if not (kindIs "map" $cfg.source) -}}
    {{- fail "config.source must be a map with one source type (secret, file, vault, ...)" -}}
  {{- end -}}
  {{- $entries = append $entries (dict "path" "config.source" "source" $cfg.source "secretName" "") -}}
{{- else -}}
  {{- fail "config needs either `source` (seed form) or a non-empty `mappings` list" -}}
{{- end -}}
{{- range $entries -}}
  {{- $path := .path -}}
  {{- if hasKey .source "vault" -}}
    {{- include "ipsp.refuseInlineVaultCredentials" (dict "path" (printf "%s.vault" $path) "vault" .source.vault) -}}
  {{- end -}}
  {{- $secretJson := include "ipsp.secretSourceOf" .source -}}
  {{- $sourceName := "" -}}
  {{- if $secretJson -}}
    {{- $s := $secretJson | fromJson -}}
    {{- $secretPath := ternary (printf "%s.secret" $path) $path (hasKey .source "secret") -}}
    {{- if not (kindIs "map" (get .source "secret" | default $s)) -}}
      {{- fail (printf "%s must be a map with name and namespace" $secretPath) -}}
    {{- end -}}
    {{- $name := required (printf "%s.name is required" $secretPath) $s.name -}}
    {{- $ns := required (printf "%s.namespace is required" $secretPath) $s.namespace -}}
    {{- $secretSources = append $secretSources (dict "name" $name "namespace" $ns) -}}
    {{- $sourceName = $name -}}
  {{- end -}}
  {{- if not .merged -}}
    {{- $copies = append $copies (.secretName | default $cfg.secretName | default $sourceName | default "image-pull-secret") -}}
  {{- end -}}
{{- end -}}
{{- $copies = concat $copies (.Values.rbac.extraSecretNames | default list) -}}
{{- $retired := .Values.rbac.retiredSecretNames | default list -}}
{{- if .Values.rbac.keepCleanupAccessOnUpgrade -}}
  {{- $existing := lookup "rbac.authorization.k8s.io/v1" "ClusterRole" "" (include "ipsp.fullname" .) -}}
  {{- if $existing -}}
    {{- $annotations := $existing.metadata.annotations | default dict -}}
    {{- $recorded := get $annotations "imagepullsecret-patcher.io/copy-names" -}}
    {{- if $recorded -}}
      {{- $retired = concat $retired (splitList "," $recorded) -}}
    {{- else -}}
      {{- /* A release from chart 0.1.0 records no names: take the named Secret rule that can update. */ -}}
      {{- range $existing.rules -}}
        {{- if and (has "secrets" (.resources | default list)) .resourceNames (has "update" (.verbs | default list)) -}}
          {{- $retired = concat $retired .resourceNames -}}
        {{- end -}}
      {{- end -}}
    {{- end -}}
  {{- end -}}
{{- end -}}
{{- range (concat $copies $retired) -}}
  {{- if not (and (kindIs "string" .) (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$" .) (le (len .) 253)) -}}
    {{- fail (printf "%v is not a valid Secret name (DNS-1123 subdomain); check config.secretName, config.mappings[*].secretName, rbac.extraSecretNames and rbac.retiredSecretNames" .) -}}
  {{- end -}}
{{- end -}}
{{- $copies = $copies | uniq | sortAlpha -}}
{{- $stillRetired := list -}}
{{- range ($retired | uniq | sortAlpha) -}}
  {{- if not (has . $copies) -}}
    {{- $stillRetired = append $stillRetired . -}}
  {{- end -}}
{{- end -}}
{{- $byNamespace := dict -}}
{{- range $secretSources -}}
  {{- $_ := set $byNamespace .namespace (append (get $byNamespace .namespace | default list) .name) -}}
{{- end -}}
{{- range $ns, $names := $byNamespace -}}
  {{- $_ := set $byNamespace $ns ($names | uniq | sortAlpha) -}}
{{- end -}}
{{- toJson (dict "copyNames" $copies "retiredNames" $stillRetired "sources" $byNamespace) -}}
{{- end -}}

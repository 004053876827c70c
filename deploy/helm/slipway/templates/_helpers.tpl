{{/* Name of every object: fullnameOverride, the release name when it
contains the chart name, else <release>-slipway. */}}
{{- define "slipway.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "slipway.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "slipway.labels" -}}
{{ include "slipway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "slipway.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "slipway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "slipway.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Refuses values that cannot work, before anything is applied. */}}
{{- define "slipway.validate" -}}
{{- $db := .Values.database.type -}}
{{- if not (has $db (list "sqlite" "postgres")) -}}
{{- fail (printf "database.type must be sqlite or postgres, not %q" $db) -}}
{{- end -}}
{{- if and (eq $db "sqlite") (gt (int .Values.replicaCount) 1) -}}
{{- fail "SQLite serves one replica only (the server locks its data directory): set replicaCount: 1 or database.type: postgres" -}}
{{- end -}}
{{- if eq $db "postgres" -}}
{{- if not .Values.database.postgres.existingSecret -}}
{{- fail "database.postgres.existingSecret: name the Secret holding the PostgreSQL URL" -}}
{{- end -}}
{{- if not .Values.secretKey.existingSecret -}}
{{- fail "secretKey.existingSecret: every replica needs the same SLIPWAY_SECRET_KEY_FILE with PostgreSQL" -}}
{{- end -}}
{{- if not .Values.store.url -}}
{{- fail "store.url: replicas share no disk with PostgreSQL; set an S3 release store (s3://bucket/prefix?endpoint=...)" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "attache-delegate.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "attache-delegate.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "attache-delegate.labels" -}}
{{ include "attache-delegate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The delegate group name: also what the control plane lists and what tasks can be pinned to. */}}
{{- define "attache-delegate.groupName" -}}
{{- .Values.name | default .Release.Name -}}
{{- end -}}

{{- define "attache-delegate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "attache-delegate.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{- define "attache-delegate.tokenSecretName" -}}
{{- if .Values.existingSecret.name -}}
{{- .Values.existingSecret.name -}}
{{- else if .Values.token -}}
{{- printf "%s-token" (include "attache-delegate.fullname" .) -}}
{{- else -}}
{{- fail "attache-delegate: set existingSecret.name (a Secret holding the delegate token) or token" -}}
{{- end -}}
{{- end -}}

{{- define "attache-delegate.caConfigMapName" -}}
{{- .Values.caBundle.existingConfigMap | default (printf "%s-ca" (include "attache-delegate.fullname" .)) -}}
{{- end -}}

{{/* SIGKILL must come after the drain grace, or a stopping delegate loses the tasks it is finishing. */}}
{{- define "attache-delegate.terminationGrace" -}}
{{- $drain := int .Values.drainGraceSeconds -}}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds -}}
{{- add $drain 15 -}}
{{- else if le (int .Values.terminationGracePeriodSeconds) $drain -}}
{{- fail (printf "attache-delegate: terminationGracePeriodSeconds (%d) must be larger than drainGraceSeconds (%d)" (int .Values.terminationGracePeriodSeconds) $drain) -}}
{{- else -}}
{{- int .Values.terminationGracePeriodSeconds -}}
{{- end -}}
{{- end -}}

{{- define "attache-delegate.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

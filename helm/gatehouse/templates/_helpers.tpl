{{/*
Names and labels shared by every template.

  gatehouse.fullname        release-scoped base name ("gatehouse" for release "gatehouse")
  gatehouse.labels          the app.kubernetes.io/* set plus helm.sh/chart; pass (dict "ctx" . "component" "proxy")
  gatehouse.selectorLabels  the immutable subset used in selectors; same argument
  gatehouse.*Name           the name of each object other templates refer to
*/}}

{{- define "gatehouse.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gatehouse.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "gatehouse.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gatehouse.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gatehouse.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "gatehouse.labels" -}}
{{ include "gatehouse.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: gatehouse
helm.sh/chart: {{ include "gatehouse.chart" .ctx }}
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "gatehouse.operatorName" -}}{{ include "gatehouse.fullname" . }}-operator{{- end -}}
{{- define "gatehouse.proxyName" -}}{{ include "gatehouse.fullname" . }}-proxy{{- end -}}
{{- define "gatehouse.proxyAdminName" -}}{{ include "gatehouse.fullname" . }}-proxy-admin{{- end -}}
{{- define "gatehouse.bootstrapName" -}}{{ include "gatehouse.fullname" . }}-fleet-config{{- end -}}
{{- define "gatehouse.keysName" -}}{{ include "gatehouse.fullname" . }}-keys{{- end -}}
{{- define "gatehouse.pushProxyName" -}}{{ include "gatehouse.fullname" . }}-push-proxy{{- end -}}
{{- define "gatehouse.pushOperatorName" -}}{{ include "gatehouse.fullname" . }}-push-operator{{- end -}}

{{/* The DNS name every proxy's push (admin) certificate carries. */}}
{{- define "gatehouse.pushServerName" -}}
{{- default (printf "%s.%s.svc" (include "gatehouse.proxyAdminName" .) .Release.Namespace) .Values.push.serverName -}}
{{- end -}}

{{- define "gatehouse.image" -}}
{{- printf "%s:%s" .image.repository (default .ctx.Chart.AppVersion .image.tag) -}}
{{- end -}}

{{/* Pod and container security settings shared by both workloads. */}}
{{- define "gatehouse.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "gatehouse.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
Shared definitions. Every service template is one line calling "kryptonite.component";
every job template calls "kryptonite.podTemplate". Nothing is copied between templates.
*/}}

{{- define "kryptonite.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kryptonite.fullname" -}}
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

{{/* Name of a component's objects: (dict "root" $ "name" "gateway") */}}
{{- define "kryptonite.componentName" -}}
{{- printf "%s-%s" (include "kryptonite.fullname" .root | trunc 45 | trimSuffix "-") .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kryptonite.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels: (dict "root" $ "name" "gateway") */}}
{{- define "kryptonite.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kryptonite.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{/* All labels: (dict "root" $ "name" "gateway"); name may be empty for shared objects. */}}
{{- define "kryptonite.labels" -}}
helm.sh/chart: {{ include "kryptonite.chart" .root }}
app.kubernetes.io/name: {{ include "kryptonite.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- with .name }}
app.kubernetes.io/component: {{ . }}
{{- end }}
app.kubernetes.io/part-of: kryptonite
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The workloads, each with its own ServiceAccount: enabled components and jobs. */}}
{{- define "kryptonite.workloads" -}}
{{- $names := list -}}
{{- range $name, $c := .Values.components -}}
{{- if $c.enabled }}{{ $names = append $names $name }}{{ end -}}
{{- end -}}
{{- range $key, $j := .Values.jobs -}}
{{- if $j.enabled }}{{ $names = append $names ($key | kebabcase) }}{{ end -}}
{{- end -}}
{{- toYaml $names -}}
{{- end -}}

{{/* ServiceAccount of one workload: (dict "root" $ "name" "gateway") */}}
{{- define "kryptonite.serviceAccountName" -}}
{{- $sa := .root.Values.serviceAccount -}}
{{- if $sa.create -}}
{{- include "kryptonite.componentName" . -}}
{{- else -}}
{{- default "default" $sa.name -}}
{{- end -}}
{{- end -}}

{{/* S3 access of a workload (none, read, write): (dict "root" $ "name" "train") */}}
{{- define "kryptonite.s3Access" -}}
{{- index .root.Values.serviceAccount.s3Access .name | default "none" -}}
{{- end -}}

{{/*
Image of a workload: (dict "root" $ "name" "gateway"). The gateway runs the `gateway`
target of deploy/Dockerfile, the gRPC services the `serving` one, every job `jobs`.
*/}}
{{- define "kryptonite.imageTarget" -}}
{{- if eq .name "gateway" -}}gateway
{{- else if has .name (list "candidates" "ranking" "content") -}}serving
{{- else -}}jobs
{{- end -}}
{{- end -}}

{{- define "kryptonite.image" -}}
{{- $v := .root.Values -}}
{{- $img := index $v.images (include "kryptonite.imageTarget" .) -}}
{{- $ref := printf "%s:%s" $img.repository (default (default .root.Chart.AppVersion $v.image.tag) $img.tag | toString) -}}
{{- with $img.digest -}}
{{- $ref = printf "%s@%s" $ref . -}}
{{- end -}}
{{- $ref -}}
{{- end -}}

{{/*
The non-secret settings as a YAML map of KRYPTONITE_* variables. The ConfigMap renders it;
the migrate hook inlines it (the ConfigMap does not exist yet at pre-install).
*/}}
{{- define "kryptonite.settings" -}}
{{- $v := .Values -}}
{{- $s := dict
  "KRYPTONITE_HOST" "0.0.0.0"
  "KRYPTONITE_HOME" $v.home.path
  "KRYPTONITE_LOG_LEVEL" $v.config.logLevel
  "KRYPTONITE_LOG_JSON" $v.config.logJson
  "KRYPTONITE_RPC_TIMEOUT_S" $v.config.rpcTimeoutS
  "KRYPTONITE_RPC_MAX_CONNECTION_AGE_S" $v.config.rpcMaxConnectionAgeS
  "KRYPTONITE_RPC_SHUTDOWN_GRACE_S" $v.config.shutdownGraceS
  "KRYPTONITE_CACHE_TTL_S" $v.config.cacheTtlS
-}}
{{- range $name, $c := $v.components -}}
{{- $key := upper $name -}}
{{- $_ := set $s (printf "KRYPTONITE_%s_PORT" $key) $c.port -}}
{{- if eq $c.probe "grpc" -}}
{{- $svc := include "kryptonite.componentName" (dict "root" $ "name" $name) -}}
{{- if $c.headless -}}
{{- /* fully qualified: one DNS query per re-resolution, no search-domain expansion */ -}}
{{- $_ := set $s (printf "KRYPTONITE_%s_ADDR" $key) (printf "dns:///%s.%s.svc.%s:%v" $svc $.Release.Namespace $v.clusterDomain $c.port) -}}
{{- else -}}
{{- $_ := set $s (printf "KRYPTONITE_%s_ADDR" $key) (printf "%s:%v" $svc $c.port) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and $v.config.redisUrl (not $v.existingSecret.redisUrlKey) -}}
{{- $_ := set $s "KRYPTONITE_REDIS_URL" $v.config.redisUrl -}}
{{- end -}}
{{- with $v.config.artifactUri -}}
{{- $_ := set $s "KRYPTONITE_ARTIFACT_URI" . -}}
{{- end -}}
{{- with $v.config.s3EndpointUrl -}}
{{- $_ := set $s "KRYPTONITE_S3_ENDPOINT_URL" . -}}
{{- end -}}
{{- range $k, $val := $v.config.extra -}}
{{- $_ := set $s (printf "KRYPTONITE_%s" (upper $k)) $val -}}
{{- end -}}
{{- range $k, $val := $s }}
{{ $k }}: {{ $val | toString | quote }}
{{- end -}}
{{- end -}}

{{/* Secret settings, by reference to the existing Secret. */}}
{{- define "kryptonite.secretEnv" -}}
{{- $sec := .Values.existingSecret -}}
{{- range $var, $key := dict "KRYPTONITE_DATABASE_URL" $sec.databaseUrlKey "KRYPTONITE_TOKEN_SECRET" $sec.tokenSecretKey "KRYPTONITE_REDIS_URL" $sec.redisUrlKey }}
{{- if $key }}
- name: {{ $var }}
  valueFrom:
    secretKeyRef:
      name: {{ required "existingSecret.name is required" $sec.name }}
      key: {{ $key }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
One pod template for services and jobs:
(dict "root" $ "name" "gateway" "command" (list ...) "spec" <component or job values>
      "ports" <containerPorts> "probes" <yaml> "initCommands" <list of commands>
      "inlineSettings" bool "restartPolicy" "Never" "hook" bool)
inlineSettings/hook: for the pre-install hook, which runs before the chart's ConfigMap
exists (settings inline); its ServiceAccount is a hook of lower weight (serviceaccount.yaml).
*/}}
{{- define "kryptonite.podTemplate" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $spec := .spec -}}
metadata:
  labels:
    {{- include "kryptonite.labels" (dict "root" $root "name" .name) | nindent 4 }}
  annotations:
    checksum/settings: {{ include "kryptonite.settings" $root | sha256sum }}
    {{- with (merge (dict) ($spec.podAnnotations | default dict) $v.podAnnotations) }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "kryptonite.serviceAccountName" (dict "root" $root "name" .name) }}
  automountServiceAccountToken: {{ $v.serviceAccount.automountToken }}
  {{- with .restartPolicy }}
  restartPolicy: {{ . }}
  {{- end }}
  {{- with $spec.terminationGracePeriodSeconds }}
  {{- if lt (float64 .) (addf ($spec.preStopSeconds | default 0) $v.config.shutdownGraceS) }}
  {{- fail (printf "%s: terminationGracePeriodSeconds (%v) must cover preStopSeconds + config.shutdownGraceS" $.name .) }}
  {{- end }}
  terminationGracePeriodSeconds: {{ . }}
  {{- end }}
  {{- with $v.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml $v.podSecurityContext | nindent 4 }}
  {{- with ($spec.nodeSelector | default $v.nodeSelector) }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with ($spec.tolerations | default $v.tolerations) }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with ($spec.affinity | default $v.affinity) }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if and .ports $v.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- range $v.topologySpreadConstraints }}
    - {{ toYaml (merge (dict "labelSelector" (dict "matchLabels" (include "kryptonite.selectorLabels" (dict "root" $root "name" $.name) | fromYaml))) .) | nindent 6 | trim }}
    {{- end }}
  {{- end }}
  {{- with .initCommands }}
  initContainers:
    {{- range $cmd := . }}
    - {{ include "kryptonite.container" (merge (dict "name" (index $cmd 1) "command" $cmd "ports" list "probes" "") $) | trim | indent 6 | trim }}
    {{- end }}
  {{- end }}
  containers:
    - {{ include "kryptonite.container" . | trim | indent 6 | trim }}
  volumes:
    - name: home
      emptyDir:
        sizeLimit: {{ $v.home.sizeLimit }}
    - name: tmp
      emptyDir:
        sizeLimit: {{ $v.tmpSizeLimit }}
    - name: staging
      emptyDir:
        sizeLimit: {{ $spec.stagingSizeLimit | default $v.artifactStaging.sizeLimit }}
    {{- with $v.artifactsVolume.claimName }}
    - name: artifacts
      persistentVolumeClaim:
        claimName: {{ . }}
    {{- end }}
{{- end -}}

{{/* Probes of a component: (dict "c" <component values>) */}}
{{- define "kryptonite.probes" -}}
{{- $c := .c -}}
{{- if eq $c.probe "http" -}}
startupProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: 5
  failureThreshold: {{ div $c.startupSeconds 5 | max 1 }}
livenessProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: 10
  timeoutSeconds: 2
  failureThreshold: 3
readinessProbe:
  httpGet: {path: /readyz, port: http}
  periodSeconds: 5
  timeoutSeconds: 2
  failureThreshold: 2
{{- else if eq $c.probe "grpc" -}}
startupProbe:
  tcpSocket: {port: grpc}
  periodSeconds: 5
  failureThreshold: {{ div $c.startupSeconds 5 | max 1 }}
livenessProbe:
  tcpSocket: {port: grpc}
  periodSeconds: 10
  timeoutSeconds: 2
  failureThreshold: 3
readinessProbe:
  grpc:
    port: {{ $c.port }}
  periodSeconds: 5
  timeoutSeconds: 2
  failureThreshold: 2
{{- else -}}
{{- fail (printf "components.*.probe must be http or grpc, not %q" $c.probe) -}}
{{- end -}}
{{- end -}}

{{/*
Everything one long-running service needs: Deployment, Service, HPA, PDB, and optionally
ServiceMonitor and NetworkPolicy. (dict "root" $ "name" "gateway")
*/}}
{{- define "kryptonite.component" -}}
{{- $root := .root -}}
{{- $name := .name -}}
{{- $v := $root.Values -}}
{{- $c := required (printf "components.%s is missing" $name) (index $v.components $name) -}}
{{- if $c.enabled -}}
{{- $fullName := include "kryptonite.componentName" . -}}
{{- $portName := ternary "http" "grpc" (eq $c.probe "http") -}}
{{- $ports := list (dict "name" $portName "containerPort" (int $c.port) "protocol" "TCP") -}}
{{- if $c.metricsPort -}}
{{- $ports = append $ports (dict "name" "metrics" "containerPort" (int $c.metricsPort) "protocol" "TCP") -}}
{{- end -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $fullName }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "kryptonite.labels" . | nindent 4 }}
spec:
  {{- if not $c.autoscaling.enabled }}
  replicas: {{ $c.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: 25%
  selector:
    matchLabels:
      {{- include "kryptonite.selectorLabels" . | nindent 6 }}
  template:
    {{- include "kryptonite.podTemplate" (dict "root" $root "name" $name "spec" $c "ports" $ports "command" (list "kryptonite" "serve" $name) "probes" (include "kryptonite.probes" (dict "c" $c))) | nindent 4 }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $fullName }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "kryptonite.labels" . | nindent 4 }}
spec:
  type: ClusterIP
  {{- if $c.headless }}
  clusterIP: None
  {{- end }}
  selector:
    {{- include "kryptonite.selectorLabels" . | nindent 4 }}
  ports:
    {{- range $ports }}
    - name: {{ .name }}
      port: {{ .containerPort }}
      targetPort: {{ .name }}
      protocol: TCP
      appProtocol: {{ ternary "grpc" "http" (eq .name "grpc") }}
    {{- end }}
{{- if $c.autoscaling.enabled }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ $fullName }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "kryptonite.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ $fullName }}
  minReplicas: {{ $c.autoscaling.minReplicas }}
  maxReplicas: {{ $c.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $c.autoscaling.targetCPUUtilizationPercentage }}
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 300
{{- end }}
{{- if $c.pdb.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $fullName }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "kryptonite.labels" . | nindent 4 }}
spec:
  {{- if $c.pdb.minAvailable }}
  minAvailable: {{ $c.pdb.minAvailable }}
  {{- else }}
  maxUnavailable: {{ $c.pdb.maxUnavailable | default 1 }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "kryptonite.selectorLabels" . | nindent 6 }}
  # A pod that never turned ready (crash loop, no model yet) must not block node drains.
  unhealthyPodEvictionPolicy: AlwaysAllow
{{- end }}
{{- if $v.serviceMonitor.enabled }}
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ $fullName }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "kryptonite.labels" . | nindent 4 }}
    {{- with $v.serviceMonitor.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "kryptonite.selectorLabels" . | nindent 6 }}
  endpoints:
    - port: {{ ternary "metrics" "http" (not (empty $c.metricsPort)) }}
      path: /metrics
      interval: {{ $v.serviceMonitor.interval }}
      scrapeTimeout: {{ $v.serviceMonitor.scrapeTimeout }}
{{- end }}
{{- if $v.networkPolicy.enabled }}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ $fullName }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "kryptonite.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "kryptonite.selectorLabels" . | nindent 6 }}
  policyTypes: [Ingress]
  ingress:
    {{- if eq $c.probe "http" }}
    # The gateway is the only component that takes outside traffic.
    - ports:
        - port: {{ $portName }}
      {{- with $v.networkPolicy.gatewayFrom }}
      from:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- else }}
    # Only the gateway calls the gRPC services.
    - ports:
        - port: {{ $portName }}
      from:
        - podSelector:
            matchLabels:
              {{- include "kryptonite.selectorLabels" (dict "root" $root "name" "gateway") | nindent 14 }}
    {{- end }}
    {{- if $c.metricsPort }}
    - ports:
        - port: metrics
      {{- with $v.networkPolicy.metricsFrom }}
      from:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Metadata of a job's object: (dict "root" $ "name" "train") */}}
{{- define "kryptonite.jobMeta" -}}
labels:
  {{- include "kryptonite.labels" . | nindent 2 }}
{{- end -}}

{{/*
A Job: (dict "root" $ "name" "precompute" "job" <job values> "command" (list ...)
             "initCommands" <list of commands run before, in order>
             "objectName" <optional name> "annotations" <map> "extraSpec" <yaml string>
             "hook" bool)
*/}}
{{- define "kryptonite.job" -}}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "kryptonite.jobName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "kryptonite.labels" . | nindent 4 }}
  {{- with .annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  {{- include "kryptonite.jobSpec" . | trim | nindent 2 }}
{{- end -}}

{{/* A CronJob: (dict "root" $ "name" "train" "job" <job values> "command" (list ...)) */}}
{{- define "kryptonite.cronJob" -}}
apiVersion: batch/v1
kind: CronJob
metadata:
  name: {{ include "kryptonite.componentName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "kryptonite.labels" . | nindent 4 }}
spec:
  schedule: {{ .job.schedule | quote }}
  {{- with .job.timeZone }}
  timeZone: {{ . }}
  {{- end }}
  suspend: {{ .job.suspend | default false }}
  concurrencyPolicy: Forbid
  startingDeadlineSeconds: 600
  successfulJobsHistoryLimit: 3
  failedJobsHistoryLimit: 3
  jobTemplate:
    metadata:
      labels:
        {{- include "kryptonite.labels" . | nindent 8 }}
    spec:
      {{- include "kryptonite.jobSpec" . | trim | nindent 6 }}
{{- end -}}

{{/*
Name of a Job. A Job's pod template is immutable, so a Job that runs once per change
("versioned": bootstrap, precompute) is named after a hash of what it runs (image,
command, its values, the settings): a new Job whenever one of them changes, under
`helm upgrade` and under Argo CD alike (which renders with a constant release revision).
*/}}
{{- define "kryptonite.jobName" -}}
{{- $base := include "kryptonite.componentName" . -}}
{{- if .versioned -}}
{{- $what := list (include "kryptonite.image" .) .command .initCommands .job (include "kryptonite.settings" .root) -}}
{{- printf "%s-%s" ($base | trunc 54 | trimSuffix "-") (toYaml $what | sha256sum | trunc 8) -}}
{{- else -}}
{{- $base -}}
{{- end -}}
{{- end -}}

{{- define "kryptonite.jobSpec" -}}
{{- with .extraSpec }}
{{ . }}
{{- end }}
{{- with .job.backoffLimit }}
backoffLimit: {{ . }}
{{- end }}
{{- with .job.activeDeadlineSeconds }}
activeDeadlineSeconds: {{ . }}
{{- end }}
{{- with .job.ttlSecondsAfterFinished }}
ttlSecondsAfterFinished: {{ . }}
{{- end }}
template:
  {{- include "kryptonite.podTemplate" (dict "root" .root "name" .name "spec" .job "command" .command "initCommands" .initCommands "restartPolicy" "Never" "inlineSettings" .hook "hook" .hook) | nindent 2 }}
{{- end -}}

{{/* The one container of every pod (same args as kryptonite.podTemplate). */}}
{{- define "kryptonite.container" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $spec := .spec -}}
name: {{ .name }}
image: {{ include "kryptonite.image" (dict "root" $root "name" .name) }}
imagePullPolicy: {{ $v.image.pullPolicy }}
command:
  {{- toYaml .command | nindent 2 }}
{{- with .ports }}
ports:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if not .inlineSettings }}
envFrom:
  - configMapRef:
      name: {{ include "kryptonite.fullname" $root }}
{{- end }}
env:
  {{- if .inlineSettings }}
  {{- range $k, $val := include "kryptonite.settings" $root | fromYaml }}
  - name: {{ $k }}
    value: {{ $val | quote }}
  {{- end }}
  {{- end }}
  {{- include "kryptonite.secretEnv" $root | trim | nindent 2 }}
  {{- with .extraEnv }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
  {{- with $v.config.extraEnv }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
  {{- with $spec.extraEnv }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
  # Model artifacts are staged (downloaded, unpacked) here, not in the small /tmp.
  - name: TMPDIR
    value: {{ $v.artifactStaging.path }}
{{- with .probes }}
{{- . | nindent 0 }}
{{- end }}
{{- with $spec.preStopSeconds }}
lifecycle:
  # Keep serving while the endpoint removal reaches kube-proxy, CoreDNS (the headless
  # gRPC Services) and the ALB; SIGTERM (graceful drain) comes after.
  preStop:
    exec:
      command: ["sleep", "{{ . }}"]
{{- end }}
resources:
  {{- toYaml $spec.resources | nindent 2 }}
securityContext:
  {{- toYaml $v.securityContext | nindent 2 }}
volumeMounts:
  - name: home
    mountPath: {{ $v.home.path }}
  - name: tmp
    mountPath: /tmp
  - name: staging
    mountPath: {{ $v.artifactStaging.path }}
  {{- with $v.artifactsVolume.claimName }}
  - name: artifacts
    mountPath: {{ $v.artifactsVolume.mountPath }}
  {{- end }}
{{- end -}}

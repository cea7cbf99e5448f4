{{- define "devdeps.labels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/part-of: kryptonite-dev
{{- end -}}

{{/* A single-replica dev backend: (dict "root" $ "name" "mariadb" "image" ... "port" 3306
     "env" (list ...) "probe" (list cmd...) "dataPath" "/var/lib/mysql") */}}
{{- define "devdeps.backend" -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .name }}
  labels:
    {{- include "devdeps.labels" . | nindent 4 }}
spec:
  replicas: 1
  strategy: {type: Recreate}
  selector:
    matchLabels:
      {{- include "devdeps.labels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "devdeps.labels" . | nindent 8 }}
    spec:
      automountServiceAccountToken: false
      securityContext:
        seccompProfile: {type: RuntimeDefault}
      containers:
        - name: {{ .name }}
          image: {{ .image }}
          ports:
            - {name: tcp, containerPort: {{ .port }}}
          {{- with .env }}
          env:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          readinessProbe:
            exec:
              command:
                {{- toYaml .probe | nindent 16 }}
            periodSeconds: 5
          securityContext:
            allowPrivilegeEscalation: false
          volumeMounts:
            - {name: data, mountPath: {{ .dataPath }}}
      volumes:
        - name: data
          emptyDir: {}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ .name }}
  labels:
    {{- include "devdeps.labels" . | nindent 4 }}
spec:
  selector:
    {{- include "devdeps.labels" . | nindent 4 }}
  ports:
    - {name: tcp, port: {{ .port }}, targetPort: tcp}
{{- end -}}

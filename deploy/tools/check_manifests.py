#!/usr/bin/env python3
"""Cross-file checks of deploy/ that no schema expresses (scripts/check-deploy.sh runs it after
the schema validators). Each failed check prints `FAIL: ...`; the exit status is the number of
failures (0 = all good).

- deploy/k8s: the workers are a StatefulSet behind a headless Service it names; the coordinator
  Job gives --workers that Service's name and port; every pod runs as non-root with
  requests/limits on every container; worker probes run `llmbench health` against the worker's
  port with its CA; every Secret/ConfigMap a pod mounts is defined; the ConfigMap's scenario is
  deploy/scenario.yaml byte for byte; no manifest names a namespace.
- deploy/Dockerfile (parsed with dockerfile-parse): two stages, debian:12 then debian:12-slim;
  the build stage runs scripts/install-deps.sh --build-only and deploy/build-stage.sh; the
  runtime stage installs deploy/runtime-packages.txt; the final USER is a non-zero numeric uid;
  ENTRYPOINT, EXPOSE 50051 and a HEALTHCHECK calling `llmbench health` exist; every COPY
  source exists.
"""
import json
import os
import sys

import yaml
from dockerfile_parse import DockerfileParser

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL: " + message)
    return condition


def load_k8s():
    docs = []
    k8s = os.path.join(ROOT, "deploy", "k8s")
    for name in sorted(os.listdir(k8s)):
        if not name.endswith(".yaml") or name == "kustomization.yaml":
            continue
        with open(os.path.join(k8s, name)) as f:
            for doc in yaml.safe_load_all(f):
                if doc:
                    docs.append((name, doc))
    return docs


def pod_specs(docs):
    for name, doc in docs:
        kind = doc.get("kind")
        if kind in ("StatefulSet", "Deployment"):
            yield name, doc, doc["spec"]["template"]["spec"]
        elif kind == "Job":
            yield name, doc, doc["spec"]["template"]["spec"]


def check_k8s():
    docs = load_k8s()
    by_kind = {}
    for name, doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)
        check("namespace" not in doc.get("metadata", {}),
              f"{name}: {doc['kind']} names a namespace (manifests are namespace-agnostic)")

    statefulsets = by_kind.get("StatefulSet", [])
    check(len(statefulsets) == 1, "exactly one StatefulSet (the workers)")
    services = {s["metadata"]["name"]: s for s in by_kind.get("Service", [])}
    if statefulsets:
        sts = statefulsets[0]
        headless = services.get(sts["spec"]["serviceName"])
        if check(headless is not None, "the StatefulSet's serviceName is a Service"):
            check(headless["spec"].get("clusterIP") == "None", "the workers' Service is headless")
            check(headless["spec"]["selector"].items() <=
                  sts["spec"]["template"]["metadata"]["labels"].items(),
                  "the headless Service selects the worker pods")
            port = headless["spec"]["ports"][0]["port"]
            jobs = by_kind.get("Job", [])
            check(len(jobs) == 1, "exactly one Job (the coordinator)")
            for job in jobs:
                args = job["spec"]["template"]["spec"]["containers"][0].get("args", [])
                want = f"--workers={headless['metadata']['name']}:{port}"
                check(want in args, f"the coordinator Job runs with {want}")
                check(any(a.startswith("--tls-ca=") for a in args),
                      "the coordinator Job talks TLS (--tls-ca)")
                check(any(a.startswith("--token-file=") for a in args),
                      "the coordinator Job sends the token (--token-file)")
        worker = sts["spec"]["template"]["spec"]["containers"][0]
        args = worker.get("args", [])
        for flag in ("--tls-cert=", "--tls-key=", "--token-file=", "--listen=0.0.0.0:"):
            check(any(a.startswith(flag) for a in args), f"the worker runs with {flag}...")
        for probe in ("readinessProbe", "livenessProbe"):
            command = worker.get(probe, {}).get("exec", {}).get("command", [])
            check(command[:2] == ["llmbench", "health"],
                  f"the worker's {probe} runs `llmbench health`")
            check(any(c.startswith("--tls-ca=") for c in command),
                  f"the worker's {probe} verifies TLS with --tls-ca")

    defined = {(d["kind"], d["metadata"]["name"]) for _, d in docs}
    for name, doc, spec in pod_specs(docs):
        what = f"{name}: {doc['kind']} {doc['metadata']['name']}"
        sc = spec.get("securityContext", {})
        check(sc.get("runAsNonRoot") is True, f"{what}: securityContext.runAsNonRoot")
        check(sc.get("runAsUser", 0) != 0, f"{what}: runAsUser is not root")
        for c in spec.get("initContainers", []) + spec["containers"]:
            res = c.get("resources", {})
            check("requests" in res and "limits" in res,
                  f"{what}: container {c['name']} has resource requests and limits")
            csc = c.get("securityContext", {})
            check(csc.get("allowPrivilegeEscalation") is False,
                  f"{what}: container {c['name']} disallows privilege escalation")
        for v in spec.get("volumes", []):
            if "secret" in v:
                check(("Secret", v["secret"]["secretName"]) in defined,
                      f"{what}: mounts Secret {v['secret']['secretName']}, which is defined")
            if "configMap" in v:
                check(("ConfigMap", v["configMap"]["name"]) in defined,
                      f"{what}: mounts ConfigMap {v['configMap']['name']}, which is defined")

    with open(os.path.join(ROOT, "deploy", "scenario.yaml")) as f:
        scenario = f.read()
    maps = [d for d in by_kind.get("ConfigMap", []) if "scenario.yaml" in d.get("data", {})]
    if check(len(maps) == 1, "one ConfigMap holds scenario.yaml"):
        check(maps[0]["data"]["scenario.yaml"] == scenario,
              "the ConfigMap's scenario.yaml is deploy/scenario.yaml byte for byte")


def check_dockerfile():
    parser = DockerfileParser(path=os.path.join(ROOT, "deploy", "Dockerfile"))
    structure = parser.structure
    froms = [i["value"].split() for i in structure if i["instruction"] == "FROM"]
    check([f[0] for f in froms] == ["debian:12", "debian:12-slim"],
          f"Dockerfile stages are debian:12 then debian:12-slim (got {froms})")
    stage = -1
    runs = {0: [], 1: []}
    users, copies = [], []
    final = {}
    for i in structure:
        ins = i["instruction"]
        if ins == "FROM":
            stage += 1
            continue
        if ins == "RUN":
            runs.setdefault(stage, []).append(i["value"])
        if ins == "USER":
            users.append((stage, i["value"]))
        if ins == "COPY":
            copies.append(i["value"])
        if stage == len(froms) - 1:
            final[ins] = i["value"]
    check(any("scripts/install-deps.sh --build-only" in r for r in runs[0]),
          "the build stage runs scripts/install-deps.sh --build-only")
    check(any("deploy/build-stage.sh" in r for r in runs[0]),
          "the build stage runs deploy/build-stage.sh")
    check(any("install-runtime.sh" in r for r in runs[1]),
          "the runtime stage runs deploy/install-runtime.sh")
    final_users = [u for s, u in users if s == len(froms) - 1]
    if check(final_users, "the runtime stage sets USER"):
        uid = final_users[-1].split(":")[0]
        check(uid.isdigit() and int(uid) != 0,
              f"the final USER is a numeric non-root uid (Kubernetes runAsNonRoot can check it), "
              f"got {final_users[-1]}")
    check("ENTRYPOINT" in final, "the runtime stage has an ENTRYPOINT")
    check("50051" in final.get("EXPOSE", ""), "the runtime stage EXPOSEs 50051")
    check("llmbench" in final.get("HEALTHCHECK", "") and "health" in final.get("HEALTHCHECK", ""),
          "the HEALTHCHECK runs `llmbench health`")
    for value in copies:
        parts = value.split()
        if any(p.startswith("--from=") for p in parts):
            continue
        for source in parts[:-1]:
            check(source == "." or os.path.exists(os.path.join(ROOT, source)),
                  f"COPY source {source} exists")
    print(json.dumps({"dockerfile_stages": [f[0] for f in froms],
                      "final_user": final_users[-1] if final_users else None}))


def main():
    check_k8s()
    check_dockerfile()
    print(f"check_manifests: {len(failures)} failure(s)")
    return min(len(failures), 100)


if __name__ == "__main__":
    sys.exit(main())

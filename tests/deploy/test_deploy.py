"""deploy/ checked without Docker or Kubernetes: the files parse, and the images, ports,
services, versions, files and commands they name exist and agree with each other, with
the repository and with the CLI's own parser (every ``hpo ...`` command in the manifests
and in the README's GPU-cluster section)."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest

import hpo
from hpo.cli import build_parser

yaml = pytest.importorskip("yaml", reason="the deploy checks parse YAML (pyyaml)")

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBERAY = DEPLOY / "kuberay"
VERSION = hpo.__version__
SERVER_IMAGE = f"hpo-server:{VERSION}"
RAY_IMAGE = f"hpo-ray:{VERSION}"
PORT = 8000


def ray_pin() -> str:
    text = (ROOT / "constraints.txt").read_text()
    match = re.search(r"^ray==([\d.]+)$", text, re.MULTILINE)
    assert match, "constraints.txt pins no ray version"
    return match.group(1)


def extras() -> set[str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return set(meta["project"]["optional-dependencies"])


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    return data


def manifests() -> dict[str, dict[str, Any]]:
    """Every KubeRay/Kubernetes document, by ``kind/name``."""
    docs: dict[str, dict[str, Any]] = {}
    for path in sorted(KUBERAY.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return docs


# --- the Dockerfile ----------------------------------------------------------------------------
def dockerfile() -> tuple[dict[str, str], dict[str, list[str]]]:
    """Build arguments (defaults) and each stage's instructions, by stage name."""
    args: dict[str, str] = {}
    stages: dict[str, list[str]] = {}
    current: list[str] | None = None
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("ARG ") and current is None:
            name, _, default = line[4:].partition("=")
            args[name] = default
            continue
        match = re.match(r"FROM\s+(\S+)\s+AS\s+(\S+)$", line, re.IGNORECASE)
        if match:
            current = stages.setdefault(match.group(2), [f"FROM {match.group(1)}"])
            continue
        assert current is not None, f"instruction before the first FROM: {line}"
        current.append(line)
    return args, stages


def test_the_images_install_the_built_wheel_not_the_source_tree() -> None:
    args, stages = dockerfile()
    assert set(stages) == {"wheel", "server", "ray"}
    assert any(i.startswith("RUN pip wheel") for i in stages["wheel"])
    for name in ("server", "ray"):
        copies = [i for i in stages[name] if i.startswith("COPY")]
        assert any("--from=wheel" in c for c in copies), f"{name} does not take the wheel"
        for c in copies:  # only the wheel, the pins and one example script: no sources
            assert re.search(r"--from=wheel|constraints\.txt|examples/ray_gpu\.py", c), c
        installs = [i for i in stages[name] if "pip install" in i]
        assert installs and all("-c /tmp/constraints.txt" in i for i in installs)
        for install in installs:
            for extra_list in re.findall(r"hpo-\*\.whl\)\[([\w,]+)\]", install):
                assert set(extra_list.split(",")) <= extras(), install
    # every file the build copies from the context exists in the repository
    for stage in stages.values():
        for line in stage:
            if line.startswith("COPY") and "--from=" not in line:
                sources = [p for p in line.split()[1:-1] if not p.startswith("--")]
                for src in sources:
                    assert (ROOT / src).exists(), f"COPY {src}: no such file"
    # the base images: Python as pyproject requires, Ray as constraints.txt pins
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["requires-python"] == f">={args['PYTHON_VERSION']}"
    assert args["RAY_IMAGE"] == f"rayproject/ray:{ray_pin()}-py311-gpu"
    assert f"EXPOSE {PORT}" in stages["server"]
    entry = next(i for i in stages["server"] if i.startswith("ENTRYPOINT"))
    cmd = next(i for i in stages["server"] if i.startswith("CMD"))
    argv = eval(entry.split(None, 1)[1]) + eval(cmd.split(None, 1)[1])  # JSON arrays
    assert argv[0] == "hpo"
    assert parses(argv[1:]).port == PORT


# --- docker compose ----------------------------------------------------------------------------
def test_compose_wires_server_postgres_ray_head_and_gpu_workers() -> None:
    _, stages = dockerfile()
    services = compose()["services"]
    assert set(services) == {"postgres", "server", "ray-head", "ray-gpu-worker"}
    images = {"server": SERVER_IMAGE, "ray-head": RAY_IMAGE, "ray-gpu-worker": RAY_IMAGE}
    for name, image in images.items():
        service = services[name]
        assert service["image"] == image
        build = service["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == (
            DEPLOY / "Dockerfile"
        )
        assert build["target"] in stages
    # the server: `hpo server` on the postgres service, published on its port
    server = services["server"]
    args = parses(server["command"])
    assert args.command == "server" and args.port == PORT and args.host == "0.0.0.0"
    db = services["postgres"]["environment"]
    url = expand(args.storage)
    assert url == (
        f"postgresql+psycopg://{db['POSTGRES_USER']}:{expand(db['POSTGRES_PASSWORD'])}"
        f"@postgres:5432/{db['POSTGRES_DB']}"
    )
    assert f"{PORT}:{PORT}" in server["ports"]
    assert server["depends_on"]["postgres"]["condition"] == "service_healthy"
    # Ray: workers join the head's port; they reserve GPUs; everyone reaches the server
    head = services["ray-head"]["command"]
    assert head[:3] == ["ray", "start", "--head"] and "--block" in head
    head_port = next(a.split("=")[1] for a in head if a.startswith("--port="))
    worker = services["ray-gpu-worker"]
    assert f"--address=ray-head:{head_port}" in worker["command"]
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    for name in ("ray-head", "ray-gpu-worker"):
        assert services[name]["environment"]["HPO_STORAGE"] == f"http://server:{PORT}"
    assert set(compose()["volumes"]) >= {"pgdata", "artifacts"}


# --- KubeRay -----------------------------------------------------------------------------------
def containers(pod_template: dict[str, Any]) -> list[dict[str, Any]]:
    return list(pod_template["spec"]["containers"])


def test_kuberay_cluster_job_and_server_agree() -> None:
    docs = manifests()
    assert set(docs) == {
        "Deployment/hpo-server",
        "PersistentVolumeClaim/hpo-artifacts",
        "Service/hpo-server",
        "RayCluster/hpo-ray",
        "RayJob/hpo-ray-gpu-study",
    }
    cluster, job = docs["RayCluster/hpo-ray"], docs["RayJob/hpo-ray-gpu-study"]
    for doc in (cluster, job):
        assert doc["apiVersion"] == "ray.io/v1"
    assert cluster["spec"]["rayVersion"] == ray_pin()
    head = cluster["spec"]["headGroupSpec"]
    (gpu,) = cluster["spec"]["workerGroupSpecs"]
    pods = [head["template"], gpu["template"], job["spec"]["submitterPodTemplate"]]
    assert all(c["image"] == RAY_IMAGE for p in pods for c in containers(p))
    # the GPU group: one GPU per pod, and Ray told so
    (worker,) = containers(gpu["template"])
    limits = worker["resources"]["limits"]
    assert limits["nvidia.com/gpu"] == 1 == int(gpu["rayStartParams"]["num-gpus"])
    assert gpu["minReplicas"] <= gpu["replicas"] <= gpu["maxReplicas"]
    # the job runs on that cluster
    assert job["spec"]["clusterSelector"]["ray.io/cluster"] == cluster["metadata"]["name"]
    # the server: its Service reaches the container's port, which `hpo server` listens on
    deployment, service = docs["Deployment/hpo-server"], docs["Service/hpo-server"]
    (server,) = containers(deployment["spec"]["template"])
    assert server["image"] == SERVER_IMAGE
    args = parses(server["args"])
    assert server["command"] == ["hpo"] and args.command == "server" and args.port == PORT
    ports = {p["name"]: p["containerPort"] for p in server["ports"]}
    (port,) = service["spec"]["ports"]
    assert ports[port["targetPort"]] == PORT and port["port"] == PORT
    assert service["spec"]["selector"] == deployment["spec"]["template"]["metadata"]["labels"]
    probes = {
        server["readinessProbe"]["httpGet"]["path"],
        server["livenessProbe"]["httpGet"]["path"],
    }
    assert probes == {"/readyz", "/healthz"}
    volume = deployment["spec"]["template"]["spec"]["volumes"][0]
    assert volume["persistentVolumeClaim"]["claimName"] == "hpo-artifacts"
    # every Ray pod finds the server by the Service's name
    url = f"http://{service['metadata']['name']}:{PORT}"
    for pod in pods[:2]:
        env = {e["name"]: e for e in containers(pod)[0]["env"]}
        assert env["HPO_STORAGE"]["value"] == url
        assert env["HPO_API_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "hpo-server"


def test_the_probe_paths_exist_in_the_server() -> None:
    pytest.importorskip("fastapi", reason="the server's routes need hpo[server]")
    from hpo.server.routes import health

    paths = {getattr(r, "path", None) for r in health.router.routes}
    assert {"/healthz", "/readyz"} <= paths


# --- commands ----------------------------------------------------------------------------------
def parses(argv: list[str]) -> Any:
    """``argv`` (after ``hpo``) parsed by the CLI's own parser."""
    return build_parser().parse_args([expand(a) for a in argv])


def expand(text: str) -> str:
    """Compose's ``${VAR:-default}`` with its default."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(text))


def gpu_section() -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"^## Ray and GPU clusters\n(.*?)^## ", text, re.MULTILINE | re.DOTALL)
    assert match, "README.md has no 'Ray and GPU clusters' section"
    return match.group(1)


def documented_commands() -> list[list[str]]:
    """Every command line of the GPU-cluster section's console blocks and of the deploy
    files' comments, split like a shell would."""
    lines: list[str] = []
    for block in re.findall(r"^```console\n(.*?)^```", gpu_section(), re.MULTILINE | re.DOTALL):
        lines += block.splitlines()
    for path in [DEPLOY / "docker-compose.yml", *KUBERAY.glob("*.yaml")]:
        text = re.sub(r"\\\n#\s*", " ", path.read_text())  # continued command lines
        # commands are indented in the comments, prose is not
        lines += [m.strip() for m in re.findall(r"^#\s{2,}(\S.*)$", text, re.MULTILINE)]
    programs = ("hpo", "python", "docker", "kubectl")
    lines = [line for line in lines if line.split(" ", 1)[0] in programs]
    return [shlex.split(line.split("  #", 1)[0]) for line in lines]


def test_every_documented_hpo_command_parses_with_the_cli() -> None:
    commands = [argv[1:] for argv in documented_commands() if argv and argv[0] == "hpo"]
    assert len(commands) >= 3
    for argv in commands:
        args = parses(argv)
        assert args.command == argv[0]
        if "--storage" in argv:
            assert args.storage.startswith("http://")  # the server's URL


def test_every_documented_example_run_parses_with_the_example() -> None:
    pytest.importorskip("torch", reason="examples/ray_gpu.py imports torch")
    import importlib.util

    spec = importlib.util.spec_from_file_location("example_ray_gpu", ROOT / "examples/ray_gpu.py")
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    runs = [a for a in documented_commands() if "examples/ray_gpu.py" in " ".join(a)]
    job = manifests()["RayJob/hpo-ray-gpu-study"]["spec"]["entrypoint"]
    runs.append(shlex.split(job))
    assert len(runs) >= 3
    _, stages = dockerfile()
    copied = next(i for i in stages["ray"] if "examples/ray_gpu.py" in i).split()[-1]
    for argv in runs:
        script = next(i for i, a in enumerate(argv) if a.endswith("examples/ray_gpu.py"))
        assert argv[script - 1] == "python"
        if argv[script].startswith("/"):  # a path inside the image: the one it copies
            assert argv[script] == copied
        elif argv[0] == "docker":  # relative to the image's working directory
            workdir = next(i for i in stages["ray"] if i.startswith("WORKDIR")).split()[1]
            assert f"{workdir}/{argv[script]}" == copied
        args = example.parse_args(argv[script + 1 :])
        assert 0 < args.gpus_per_trial <= 1 and args.n_trials >= 1


def test_every_documented_docker_and_kubectl_command_names_what_exists() -> None:
    services = set(compose()["services"])
    names = {doc["metadata"]["name"] for doc in manifests().values()}
    seen = set()
    for argv in documented_commands():
        seen.add(argv[0])
        if argv[:2] == ["docker", "compose"]:
            assert (ROOT / argv[argv.index("-f") + 1]).resolve() == DEPLOY / "docker-compose.yml"
            if "exec" in argv:
                assert argv[argv.index("exec") + 1] in services
            for arg in argv:
                if "=" in arg and argv[argv.index(arg) - 1] == "--scale":
                    assert arg.split("=")[0] in services
        elif argv[0] == "kubectl" and argv[1] == "apply":
            files = [argv[i + 1] for i, a in enumerate(argv) if a == "-f"]
            assert files and all((ROOT / f).is_file() for f in files)
        elif argv[0] == "kubectl" and argv[1] == "logs":
            assert argv[-1].split("/")[1] in names
        elif argv[0] == "kubectl" and argv[1] == "create":
            assert argv[4] == "hpo-server"  # the Secret the manifests read
            keys = {a.split("=")[1] for a in argv if a.startswith("--from-literal=")}
            assert keys == {"storage-url", "api-token"}
    assert {"docker", "kubectl", "hpo"} <= seen

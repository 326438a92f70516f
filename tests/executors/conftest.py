"""A real multi-node Ray cluster for the Ray executor's tests, shared by a module.

The cluster is ``ray.cluster_utils.Cluster`` on this machine: a head that runs no trial
(no CPU: the driver's mailbox actor lives there), node ``a`` with 2 CPUs and node ``b``
with 2 CPUs and 2 *declared* GPUs (no GPU hardware is needed: Ray assigns the ids and sets
``CUDA_VISIBLE_DEVICES`` all the same). Custom resources ``node_a`` / ``node_b`` pin trials
to a node. Health checks are fast so that a removed node is noticed in about a second.
Starting it takes seconds, so a test module shares one; every test leaves it as it found
it (a test that removes a node removes one it added).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

FAST_HEALTH_CHECKS = {
    "health_check_initial_delay_ms": 0,
    "health_check_period_ms": 500,
    "health_check_timeout_ms": 1000,
    "health_check_failure_threshold": 4,
}


@dataclass
class RayCluster:
    """The running cluster: its address, and node ids by name (``"a"``, ``"b"``)."""

    cluster: Any
    address: str
    nodes: dict[str, str]

    def add_node(self, name: str, **node_args: Any) -> tuple[Any, str]:
        """Start one more node with resource ``node_<name>``; returns it and its id."""
        import ray

        resources = {**node_args.pop("resources", {}), f"node_{name}": 100}
        node = self.cluster.add_node(resources=resources, **node_args)
        self.cluster.wait_for_nodes()
        for info in ray.nodes():
            if info.get("Alive") and f"node_{name}" in info.get("Resources", {}):
                return node, info["NodeID"]
        raise AssertionError(f"node {name} did not join")


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[RayCluster]:
    ray = pytest.importorskip("ray", reason="the Ray executor's tests need ray (hpo[ray])")
    from ray.cluster_utils import Cluster

    if ray.is_initialized():  # e.g. the session's single-node instance of the Tune tests
        ray.shutdown()
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 0,
            "include_dashboard": False,
            "_system_config": FAST_HEALTH_CHECKS,
        },
    )
    try:
        cluster.add_node(num_cpus=2, resources={"node_a": 100})
        cluster.add_node(num_cpus=2, num_gpus=2, resources={"node_b": 100})
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
        nodes = {}
        for info in ray.nodes():
            for name in ("a", "b"):
                if f"node_{name}" in info.get("Resources", {}):
                    nodes[name] = info["NodeID"]
        yield RayCluster(cluster, cluster.address, nodes)
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A local moto server (S3 over HTTP, reachable from every node of the cluster) with a
    bucket ``hpo``; its endpoint URL. Credentials: ``testing`` / ``testing``."""
    pytest.importorskip("boto3", reason="S3 stores need boto3 (hpo[s3])")
    server_mod = pytest.importorskip("moto.server", reason="the S3 tests need moto[server]")
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        import boto3

        boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        ).create_bucket(Bucket="hpo")
        yield endpoint
    finally:
        server.stop()


#: what Ray workers (and the driver) need to reach the moto server
S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

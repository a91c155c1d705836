#!/usr/bin/env python3
"""A client in another language, generated from proto/ alone.

Generates Python stubs from the repository's .proto files with grpcio-tools, then, with a
token from `cspr token create`, creates a review on a running registry and checks the statutory
due dates it reports: the serious incident notification 5 working days after the local
authority became aware, and (after recording the notification) the rapid review 15 working
days after that.

    python3 -m venv .venv && .venv/bin/pip install grpcio grpcio-tools
    CSPR_TOKEN=$(cspr token create --partnership southvale --role partnership_admin) \
        .venv/bin/python tests/python/create_review.py 127.0.0.1:50051

Exits 0 when the registry answered as expected; prints what it saw either way.
"""

import os
import pathlib
import sys
import tempfile
import uuid

import grpc
import grpc_tools
from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROTO_DIR = ROOT / "proto"


def generate(out_dir: pathlib.Path) -> None:
    protos = [str(path.relative_to(PROTO_DIR)) for path in PROTO_DIR.rglob("*.proto")]
    bundled = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    status = protoc.main(
        [
            "protoc",
            f"-I{PROTO_DIR}",
            f"-I{bundled}",
            f"--python_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            *protos,
        ]
    )
    if status != 0:
        sys.exit(f"protoc failed with {status}")


def main() -> int:
    address = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:50051"
    token = os.environ.get("CSPR_TOKEN")
    if not token:
        sys.exit("set CSPR_TOKEN (see `cspr token create --help`)")
    with tempfile.TemporaryDirectory() as generated:
        generate(pathlib.Path(generated))
        sys.path.insert(0, generated)
        from cspr.registry.v1 import registry_pb2, registry_pb2_grpc  # noqa: E402
        from google.type import date_pb2  # noqa: E402

        metadata = [("authorization", f"Bearer {token}")]
        with grpc.insecure_channel(address) as channel:
            stub = registry_pb2_grpc.ReviewRegistryStub(channel)
            review = stub.CreateReview(
                registry_pb2.CreateReviewRequest(
                    request_id=str(uuid.uuid4()),
                    child_alias="Child Q",
                    local_authority="Southvale Council",
                    incident_date=date_pb2.Date(year=2026, month=3, day=9),
                    became_aware_on=date_pb2.Date(year=2026, month=3, day=10),
                ),
                metadata=metadata,
            )
            due = {
                registry_pb2.DeadlineKind.Name(deadline.kind): deadline.due_on
                for deadline in review.deadlines
            }
            notification = due["DEADLINE_KIND_NOTIFICATION"]
            print(f"created {review.reference} ({review.id}), stage {registry_pb2.Stage.Name(review.stage)}")
            print(f"notification due {notification.year:04}-{notification.month:02}-{notification.day:02}")
            review = stub.RecordNotificationSent(
                registry_pb2.RecordNotificationSentRequest(
                    review_id=review.id,
                    sent_on=date_pb2.Date(year=2026, month=3, day=12),
                ),
                metadata=metadata,
            )
            rapid = {
                registry_pb2.DeadlineKind.Name(deadline.kind): deadline.due_on
                for deadline in review.deadlines
            }["DEADLINE_KIND_RAPID_REVIEW"]
            print(f"rapid review due {rapid.year:04}-{rapid.month:02}-{rapid.day:02}")
            expected = ((2026, 3, 17), (2026, 4, 2))
            seen = (
                (notification.year, notification.month, notification.day),
                (rapid.year, rapid.month, rapid.day),
            )
            if seen != expected:
                print(f"unexpected due dates {seen}, expected {expected}")
                return 1
    print("ok: the Python client generated from proto/ created a review and read its due dates")
    return 0


if __name__ == "__main__":
    sys.exit(main())

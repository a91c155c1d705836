#!/usr/bin/env python3
"""An agency system in another language, generated from proto/ alone.

Sets up a review with terms of reference (as the partnership would), then, as the agency
`police`, streams a 10,000-entry report with SubmitAgencyReport (client-streaming) and reads
the combined chronology back with StreamCombinedChronology (server-streaming), checking
every entry came back, in date order.

    CSPR_ADMIN_TOKEN=$(cspr token create --partnership southvale --role partnership_admin --role panel_chair) \
    CSPR_AGENCY_TOKEN=$(cspr token create --partnership southvale --role agency --org police) \
        .venv/bin/python tests/python/submit_report.py 127.0.0.1:50051 127.0.0.1:50052
"""

import datetime
import os
import sys
import tempfile
import time
import uuid

import grpc

from create_review import generate

ENTRIES = 10_000


def main() -> int:
    registry_address = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:50051"
    submissions_address = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1:50052"
    admin = [("authorization", f"Bearer {os.environ['CSPR_ADMIN_TOKEN']}")]
    agency = [("authorization", f"Bearer {os.environ['CSPR_AGENCY_TOKEN']}")]
    with tempfile.TemporaryDirectory() as generated:
        import pathlib

        generate(pathlib.Path(generated))
        sys.path.insert(0, generated)
        from cspr.registry.v1 import registry_pb2, registry_pb2_grpc
        from cspr.submissions.v1 import submissions_pb2, submissions_pb2_grpc
        from google.type import date_pb2

        def day(value: datetime.date) -> date_pb2.Date:
            return date_pb2.Date(year=value.year, month=value.month, day=value.day)

        with grpc.insecure_channel(registry_address) as registry_channel, grpc.insecure_channel(
            submissions_address
        ) as submissions_channel:
            registry = registry_pb2_grpc.ReviewRegistryStub(registry_channel)
            submissions = submissions_pb2_grpc.AgencySubmissionsStub(submissions_channel)

            review = registry.CreateReview(
                registry_pb2.CreateReviewRequest(
                    request_id=str(uuid.uuid4()),
                    child_alias="Child Q",
                    local_authority="Southvale Council",
                    incident_date=day(datetime.date(2026, 3, 9)),
                    became_aware_on=day(datetime.date(2026, 3, 10)),
                ),
                metadata=admin,
            )
            registry.RecordNotificationSent(
                registry_pb2.RecordNotificationSentRequest(review_id=review.id, sent_on=day(datetime.date(2026, 3, 11))),
                metadata=admin,
            )
            registry.RecordDecision(
                registry_pb2.RecordDecisionRequest(
                    review_id=review.id,
                    decision=registry_pb2.DECISION_LOCAL_CSPR,
                    decided_on=day(datetime.date(2026, 3, 26)),
                ),
                metadata=admin,
            )
            registry.SetTermsOfReference(
                registry_pb2.SetTermsOfReferenceRequest(
                    review_id=review.id,
                    scope_start=day(datetime.date(2024, 9, 15)),
                    scope_end=day(datetime.date(2026, 3, 9)),
                    key_lines_of_enquiry=["How well did agencies share information?"],
                    methodology="Systems approach",
                    agencies_in_scope=[
                        registry_pb2.Agency(id="police", name="Southvale Police", contact_email="lead@police.example.org")
                    ],
                    report_due_date=day(datetime.date(2099, 5, 1)),
                ),
                metadata=admin,
            )
            for _ in range(100):
                requests = submissions.ListReportRequests(
                    submissions_pb2.ListReportRequestsRequest(review_id=review.id), metadata=agency
                ).report_requests
                if requests:
                    break
                time.sleep(0.1)
            else:
                print("the report request never arrived")
                return 1

            first_day = datetime.date(2024, 9, 15)

            def stream():
                yield submissions_pb2.SubmitAgencyReportRequest(
                    header=submissions_pb2.SubmissionHeader(
                        request_id=str(uuid.uuid4()),
                        review_id=review.id,
                        agency_id="police",
                        author_name="Sam Lead",
                        author_role="Named safeguarding lead",
                        narrative=submissions_pb2.Narrative(
                            summary="Contacts with the family.",
                            analysis_of_involvement="Concerns were recorded.",
                            learning="Share concerns early.",
                        ),
                        entry_count=ENTRIES,
                    )
                )
                for index in range(ENTRIES):
                    yield submissions_pb2.SubmitAgencyReportRequest(
                        entry=submissions_pb2.ChronologyEntry(
                            occurred_on=day(first_day + datetime.timedelta(days=index // 20)),
                            service="Home visit",
                            practitioner_name=f"Officer {index % 9}",
                            practitioner_role="Police officer",
                            description=f"Contact {index}",
                        )
                    )

            started = time.monotonic()
            receipt = submissions.SubmitAgencyReport(stream(), metadata=agency)
            print(
                f"stored version {receipt.version}: {receipt.entry_count} entries in "
                f"{time.monotonic() - started:.1f}s, sha256 {receipt.content_hash[:16]}…"
            )
            chronology = list(
                submissions.StreamCombinedChronology(
                    submissions_pb2.StreamCombinedChronologyRequest(review_id=review.id, include_pending=True),
                    metadata=admin,
                )
            )
            dates = [(item.entry.occurred_on.year, item.entry.occurred_on.month, item.entry.occurred_on.day) for item in chronology]
            descriptions = [item.entry.description for item in chronology]
            if receipt.entry_count != ENTRIES or len(chronology) != ENTRIES:
                print(f"expected {ENTRIES} entries, stored {receipt.entry_count}, read {len(chronology)}")
                return 1
            if dates != sorted(dates) or descriptions != [f"Contact {index}" for index in range(ENTRIES)]:
                print("the combined chronology is not in the order sent")
                return 1
    print(f"ok: a Python agency system streamed {ENTRIES} entries and read them back in date order")
    return 0


if __name__ == "__main__":
    sys.exit(main())

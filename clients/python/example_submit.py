#!/usr/bin/env python3
"""Submits a monthly administrative-procedures report (form ``tthc-monthly``)
for one organ and period, then prints the form's completeness for that period.

Run ``./generate.sh`` first, then e.g.:

    .venv/bin/python example_submit.py --server 127.0.0.1:50051 \\
        --token "$SUBMITTER_TOKEN" --reviewer-token "$REVIEWER_TOKEN" \\
        --organ 00004-peoples-committee --period 2025-09

Exits 0 on success and 1 on any RPC error, after printing its status code and
details.
"""

import argparse
import datetime
import hashlib
import os
import sys

import grpc
from grpc_status import rpc_status
from google.rpc import error_details_pb2

from lienthong_client import reports_pb2, reports_pb2_grpc

FORM_CODE = "tthc-monthly"

# Indicator values of the example report, in the form's indicator order.
VALUES = [
    ("dossiers_received", 532),
    ("dossiers_online", 75),
    ("dossiers_resolved_on_time", 498),
    ("dossiers_overdue", 12),
    ("citizen_feedback_received", 28),
    ("digitally_signed_documents", 1840),
]

NARRATIVE = (
    "Trong kỳ báo cáo, bộ phận một cửa đã tiếp nhận 532 hồ sơ thủ tục hành chính, "
    "trong đó 75 hồ sơ nộp trực tuyến. Đã giải quyết đúng hạn 498 hồ sơ; "
    "12 hồ sơ quá hạn do phải bổ sung giấy tờ, đã có văn bản xin lỗi người dân. "
    "Tiếp nhận và xử lý 28 phản ánh, kiến nghị của người dân. "
    "Đã ký số 1.840 văn bản đi."
)

RPC_TIMEOUT_SECONDS = 30
MISSING_SHOWN = 5


def current_period() -> str:
    """The monthly period id of today's date in Hanoi (UTC+7, no DST)."""
    hanoi = datetime.timezone(datetime.timedelta(hours=7))
    return datetime.datetime.now(hanoi).strftime("%Y-%m")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--server",
        default=os.environ.get("LIENTHONG_SERVER", "127.0.0.1:50051"),
        help="host:port of the lienthong server (env LIENTHONG_SERVER)",
    )
    p.add_argument(
        "--token",
        default=os.environ.get("LIENTHONG_TOKEN"),
        help="bearer token of a SUBMITTER of --organ (env LIENTHONG_TOKEN)",
    )
    p.add_argument(
        "--reviewer-token",
        default=os.environ.get("LIENTHONG_REVIEWER_TOKEN"),
        help="bearer token of a REVIEWER or ANALYST, used to read completeness, "
        "which a submitter may not (env LIENTHONG_REVIEWER_TOKEN)",
    )
    p.add_argument("--organ", required=True, help="id of the reporting organ")
    p.add_argument(
        "--period",
        default=current_period(),
        help="monthly period id, YYYY-MM (default: this month in Hanoi)",
    )
    args = p.parse_args()
    if not args.token:
        p.error("--token or LIENTHONG_TOKEN is required")
    if not args.reviewer_token:
        p.error("--reviewer-token or LIENTHONG_REVIEWER_TOKEN is required")
    return args


def bearer(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


def request_id(organ: str, period: str) -> str:
    """Idempotency key: the same organ and period always give the same key, so
    rerunning the example returns the original submission instead of failing."""
    digest = hashlib.sha256(f"{FORM_CODE}|{organ}|{period}".encode()).hexdigest()
    return f"py-example-{digest[:32]}"


def fmt_time(ts) -> str:
    if not ts.seconds and not ts.nanos:
        return "-"
    return ts.ToDatetime(tzinfo=datetime.timezone.utc).isoformat()


def report_rpc_error(method: str, err: grpc.RpcError) -> None:
    print(f"error: {method} failed: {err.code().name}: {err.details()}", file=sys.stderr)
    # Validation failures carry google.rpc.BadRequest with one entry per field.
    status = rpc_status.from_call(err)
    if status is None:
        return
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            for v in bad.field_violations:
                print(f"  {v.field}: {v.description}", file=sys.stderr)
        else:
            print(f"  detail {detail.type_url}", file=sys.stderr)


def main() -> int:
    args = parse_args()
    with grpc.insecure_channel(args.server) as channel:
        reports = reports_pb2_grpc.ReportServiceStub(channel)

        submit = reports_pb2.SubmitReportRequest(
            organ=args.organ,
            form_code=FORM_CODE,
            period=args.period,
            values=[
                reports_pb2.IndicatorValue(indicator_code=code, integer_value=value)
                for code, value in VALUES
            ],
            narrative=NARRATIVE,
            request_id=request_id(args.organ, args.period),
        )
        try:
            submitted = reports.SubmitReport(
                submit, metadata=bearer(args.token), timeout=RPC_TIMEOUT_SECONDS
            )
        except grpc.RpcError as err:
            report_rpc_error("SubmitReport", err)
            return 1
        rev = submitted.revision
        print(f"report:   {submitted.report}")
        print(f"revision: {rev.revision} (form version {rev.form_version})")
        print(f"late:     {'yes' if rev.late else 'no'}")
        print(f"deadline: {fmt_time(submitted.deadline_time)}")

        try:
            c = reports.GetCompleteness(
                reports_pb2.GetCompletenessRequest(form_code=FORM_CODE, period=args.period),
                metadata=bearer(args.reviewer_token),
                timeout=RPC_TIMEOUT_SECONDS,
            )
        except grpc.RpcError as err:
            report_rpc_error("GetCompleteness", err)
            return 1
        print(f"completeness of {c.form_code} for {c.period}:")
        print(f"  expected:  {c.expected_count}")
        print(f"  submitted: {c.submitted_count}")
        print(f"  on time:   {c.on_time_count}")
        print(f"  late:      {c.late_count}")
        print(f"  accepted:  {c.accepted_count}")
        missing = c.missing_organs
        print(f"  missing:   {len(missing)}")
        for organ in missing[:MISSING_SHOWN]:
            print(f"    {organ.id}  {organ.display_name}")
        if len(missing) > MISSING_SHOWN:
            print(f"    ... and {len(missing) - MISSING_SHOWN} more")
    return 0


if __name__ == "__main__":
    sys.exit(main())

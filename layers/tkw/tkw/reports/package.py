"""The "Download Reports" zip: each report as HTML and JSON, plus an index.html linking them."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence

from tkw.reports.html import render_index, render_report, report_file
from tkw.reports.model import ReportRecord

INDEX_FILE = "index.html"


def build_zip(records: Sequence[ReportRecord]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(INDEX_FILE, render_index(records))
        for record in records:
            archive.writestr(report_file(record.id, "html"), render_report(record))
            archive.writestr(report_file(record.id, "json"), record.to_json())
    return buffer.getvalue()

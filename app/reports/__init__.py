"""District reports: one :class:`~app.reports.tables.Report` a (reach, period), read by all.

The report page, the JSON API and the XLSX, PDF and CSV exports all render the same value
built by :func:`app.reports.district.build`, so their figures cannot differ; the dashboard's
matrix, hot spots and tables come from :mod:`app.reports.dashboard` the same way. The package
only reads what the other areas wrote (it sits above them, beside ``resolution``).
"""

"""Reports for the people who answer for the site: ``guardroom report drill`` (each drill's
timeline and response figures) and ``guardroom report inspection`` (the evidence an assessor
asks for), as a self-contained HTML page and a PDF with the same content, in Chinese or English.

Needs the ``report`` extra (matplotlib, fpdf2) and, for Chinese, a CJK font (Debian
fonts-wqy-microhei). Reads the config, the event log and the delivery record, never writes
them."""

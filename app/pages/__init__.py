"""Server-rendered pages for consumers, merchants, regulators and insurers.

Jinja templates, one stylesheet and a few lines of script, all served by the app (no CDN).
Pages call the same services as the API; a page signs in by putting the API's token in an
HttpOnly, SameSite=Strict cookie, and every form post also checks that it came from this
site (``Origin``). Chinese by default, English on request (``/lang/en``).
"""

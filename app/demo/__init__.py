"""``pguard demo``: a realistic district to look at, loaded through the product's own services.

:mod:`app.demo.district` draws the district from a seed (pure data, no database);
:mod:`app.demo.loader` puts it into PostgreSQL with the same use cases the API calls, so the
demo is exactly what real use would have produced; :mod:`app.demo.command` is the command.
"""

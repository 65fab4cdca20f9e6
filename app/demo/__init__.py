"""``pguard demo``: a realistic district to look at, loaded through the product's own services.

:mod:`app.demo.district` draws the district from a seed (pure data, no database; its products
are :mod:`app.demo.catalogue`'s, its names :mod:`app.demo.names`'); :mod:`app.demo.loader`
puts it into PostgreSQL with the same use cases the API calls, so the demo is exactly what
real use would have produced: the staff and consumers (:mod:`app.demo.accounts`), each
merchant (:mod:`app.demo.shop`, dealt out to processes by :mod:`app.demo.trading`), paid
through the configured sandbox provider (:mod:`app.demo.sandbox`). :mod:`app.demo.command` is
the command and :mod:`app.demo.printout` what it prints.
"""

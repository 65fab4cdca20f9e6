"""The web application: routes, auth, pages and the use cases that wire the domain packages."""

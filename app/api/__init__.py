"""The JSON API, one front door: controllers that translate HTTP to use cases and back.

A controller parses the request into a command, calls one use case, and renders its result;
it holds no business rule. Errors are raised by the use cases and mapped once, in
``app.errors``.
"""

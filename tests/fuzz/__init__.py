"""The fuzzer: generators of hostile guests, callers and command lines (``cases``), and a
campaign runner that executes them in watched worker processes (``runner``)."""

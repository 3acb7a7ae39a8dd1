"""Virtual memory: regions, address spaces, the fault resolver, memory objects, the page
file, and the one checked path for copying to and from guest memory (``uaccess``)."""

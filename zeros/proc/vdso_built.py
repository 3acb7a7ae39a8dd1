"""The [vdso] pages, built by ``python -m zeros.proc.vdso`` from the sources in vdso_image.py
(a test checks they agree). Generated: do not edit."""

IMAGE = (
    "eNqrd/VxY2RkZIABZiAE81gYGEwYEMCEQYGBiUEDzGZkQAMCEMwKZTMBqQomBA5ggGAWKEYGzEDMCcQcUD66PCNU"
    "DchMkPlsQMzOgAkYkTQLAXnCIH1IfDUgzY3EtwHRSPxAIC2JxM8A0pOR+DVA+h4Sv4MB6iAonyE+Pju1KC81J76s"
    "uLI4OTEnByFSnJlelFpSWpSHECoqQREtSynOj0/OyU/Ojk9PLSnJzE3FKmhmAhOGCuSnpSRWwsSwaitKLWbIycwr"
    "rdBNTyxJ1SvO1zNk8PH0C42IN9IzhbPMwCEMgsxwCAtXCJz44Ry/CJAvA8RzkMKcCUh+LV3HDJNbgxJvjAzfoHIg"
    "sA0pvkBB2QANQg9GSLzuAGIuID4AiitosuKD2vfh//98DmAi+AOkFYD0XyDNzDAKKAVnGw5H7CgHM3asBVO7OIHR"
    "8Zp112QgFRwWHtTtoiKyW+HB//2tB0q0m3+wlqjt1gDymn8wlsg0/2ApEW/+wVYi1PyDvYQ3ojtGRaDbR0XkbMNr"
    "0xebgcbtZDg1y/r7R6CYRCdjXOM/kNkloscdwTmpM5DjuCMPiGV44DVrZyCL4YH4uOjDQEuB6gVaT5aogu19kYVi"
    "kEAnY+cFw0v7XgCj//u3TkcWkIVAxbzHwWUA1Gy4URAj1FGNACpn6mQEq9jBBdQGdDcHUJznbEP0YX5DbVYJoB5p"
    "URkg2Xntu6oBiL7e+QHCYvzRfImBmVk4mOXwaPIZBaNgFIyCUTAKRsEoGHJgIQOwSYfUkFvIAeR3i/LARBeyoMoP"
    "NwAAbkb0bA=="
)
SYMBOLS = {
    '__kernel_rt_sigreturn': 0x40b,
    '__kernel_sigreturn': 0x403,
    '__kernel_vsyscall': 0x400,
    '__vdso_clock_getres': 0x500,
    '__vdso_clock_gettime': 0x412,
    '__vdso_clock_gettime64': 0x419,
    '__vdso_gettimeofday': 0x493,
    '__vdso_time': 0x4de,
    'zeros_clock_ms': 0xf10,
    'zeros_getpid': 0xf00,
    'zeros_page_size': 0xf20,
}

IMAGE64 = (
    "eNqrd/VxY2JkZIABZgY7BjCPBcJ3YMAEDgwWDExQGZBaVgY8QAA7zQS1ooEJwkenFzCg0hwMtAHMQMyG5AdGNHkm"
    "qBoWAuaA9AmBSDSFYlDxEDRxLaj4TDRxM6j4XjRxF6j4NXSHxMeXpRTnxyfn5Cdnx6enlpRk5qbCBKHc/LSUxEqY"
    "GJp8ckEphhFFqcUMOZl5pRW6IHE9IDJk8PH0C42IN9IzQwoZGIT4HwIX7n/HKwLkywBxBFLYMAHJb6XrmEWgYhlQ"
    "moUBNeBh8XAAymeD8g2gfC4ovwhKc0NpCSjNB6Vhdn/4/z8fRFtA09UfKN8Dyv8L5TMxjEzgsUPhwv///+sZGFr/"
    "l2g3/2ctUfPYoQEVav7PWCLe/J+lRKj5P1sJb/N/9hKOHU+AuvhZD78A5UzDSx7HDzKcmmXt8f2jRyebR2cYh+GB"
    "wx5AowwRBr8ow1DJ7tF5ASzyApi3wCLuHB6t30rYPY6DIxxkCEK/Gbp+oPnMQEPAFrEdZwf7A6ibDa55x1OIIz07"
    "D/Abehx8pODBecFjpwTUQA9tRo+dBlBON6fH94ce/GsuKHgyMxxmGAWjYBSMglEwCkbBKBgFo2A4AwDOSbrv"
)
SYMBOLS64 = {
    '__vdso_clock_getres': 0x4d6,
    '__vdso_clock_gettime': 0x400,
    '__vdso_getcpu': 0x4bd,
    '__vdso_gettimeofday': 0x454,
    '__vdso_time': 0x499,
}

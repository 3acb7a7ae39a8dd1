"""The [vdso] page, built by ``python -m zeros.proc.vdso`` from the source in vdso.py
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

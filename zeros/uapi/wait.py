"""waitpid() options (linux/wait.h)."""

WNOHANG = 1

// vhost-user is Linux-only (SCM_RIGHTS, SO_PEERCRED, eventfd, Unix file modes).
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

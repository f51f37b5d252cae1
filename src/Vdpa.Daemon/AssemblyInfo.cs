// vdpad is a Linux daemon (AF_UNIX SOCK_SEQPACKET, SO_PEERCRED, sd_notify, Unix file modes).
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

using Uvdpa.Vdpa.Daemon.Tests;

// The test assembly's entry point, used only as a child process: `dotnet Vdpa.Daemon.Tests.dll probe SOCKET ...`
// runs the management requests of PeerProbe under whatever credentials the parent gave it (setpriv), so the
// privilege tests see the daemon judge a real foreign peer through SO_PEERCRED. Without arguments it does nothing
// (the test host loads this assembly as a library and never calls Main).
return args.Length > 0 && args[0] == PeerProbe.Verb ? PeerProbe.Run(args[1..]) : 0;

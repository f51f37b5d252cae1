[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
// The tests start daemons, hundreds of child processes and a virtual machine; run them one after another so none
// times out because of another's load.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

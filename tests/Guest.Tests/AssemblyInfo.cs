[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
// Every test boots an emulated guest (TCG) on a 2-core machine: one at a time, so none times out under another's load.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

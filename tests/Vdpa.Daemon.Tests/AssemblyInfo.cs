[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
// Several tests start daemons, child processes and hundreds of devices; run the classes one after another so the
// timing of none depends on another's load.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

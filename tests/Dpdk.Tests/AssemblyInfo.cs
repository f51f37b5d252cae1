[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
// Each test starts vdpad and a busy-polling testpmd on a 2-core machine: one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

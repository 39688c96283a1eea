using System.Runtime.CompilerServices;

// The WAL tests use the writer failpoint and the pending-bytes gauge.
[assembly: InternalsVisibleTo("HttpKv.Storage.Tests")]

// The micro-benchmarks encode WAL records directly.
[assembly: InternalsVisibleTo("HttpKv.Benchmarks")]

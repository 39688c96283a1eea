namespace HttpKv.Robustness.Faults;

/// <summary>The state of every directed link between members, as the peer proxies apply it: a link from A to B is
/// the connections A opens to B (which carry A's messages to B and B's answers on them). Cut links lose their
/// connections at once and refuse new ones; delayed links hold each chunk of bytes back.</summary>
public sealed class NetworkFaults
{
    private readonly Lock gate = new();
    private readonly HashSet<(string From, string To)> cut = [];
    private readonly Dictionary<(string From, string To), TimeSpan> delays = [];

    /// <summary>Raised after links are cut, so proxies drop the connections those links carry.</summary>
    public event Action? Changed;

    public bool IsCut(string from, string to)
    {
        lock (gate) return cut.Contains((from, to));
    }

    public TimeSpan DelayOf(string from, string to)
    {
        lock (gate) return delays.GetValueOrDefault((from, to));
    }

    public void Cut(string from, string to)
    {
        lock (gate) cut.Add((from, to));
        Changed?.Invoke();
    }

    public void Delay(string from, string to, TimeSpan delay)
    {
        lock (gate) delays[(from, to)] = delay;
    }

    /// <summary>Every link whole and prompt again.</summary>
    public void Heal()
    {
        lock (gate)
        {
            cut.Clear();
            delays.Clear();
        }
    }
}

namespace HttpKv.Server;

/// <summary>The origins of etcd's <c>--cors</c>: <c>*</c> (or nothing) allows every origin; otherwise only the listed
/// ones, compared with a request's <c>Origin</c> header exactly.</summary>
public sealed class CorsOrigins
{
    private readonly HashSet<string> origins;

    private CorsOrigins(HashSet<string> origins) => this.origins = origins;

    /// <summary>Whether every origin may call (the answer then says <c>*</c>).</summary>
    public bool AllowsAll => origins.Count == 0 || origins.Contains("*");

    public bool Allows(string origin) => AllowsAll || origins.Contains(origin);

    /// <summary>Reads the flag's value: <c>*</c> or absolute URLs (scheme and host, as a browser's Origin), comma-separated.</summary>
    public static bool TryParse(string? value, out CorsOrigins parsed)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in (value ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (item != "*" && !(Uri.TryCreate(item, UriKind.Absolute, out var uri) && !string.IsNullOrEmpty(uri.Host)))
            {
                parsed = new CorsOrigins([]);
                return false;
            }
            set.Add(item);
        }
        parsed = new CorsOrigins(set);
        return true;
    }
}

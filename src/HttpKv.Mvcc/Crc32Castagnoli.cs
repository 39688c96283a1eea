namespace HttpKv.Mvcc;

/// <summary>Incremental CRC-32C (Castagnoli), as Go's crc32.New(crc32.MakeTable(crc32.Castagnoli)).</summary>
internal struct Crc32Castagnoli
{
    private static readonly uint[] Table = BuildTable();
    private uint state = 0xFFFFFFFFu;

    public Crc32Castagnoli() { }

    public void Append(ReadOnlySpan<byte> data)
    {
        var crc = state;
        foreach (var b in data) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        state = crc;
    }

    public readonly uint Value => ~state;

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            var crc = i;
            for (var bit = 0; bit < 8; bit++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
            table[i] = crc;
        }
        return table;
    }
}

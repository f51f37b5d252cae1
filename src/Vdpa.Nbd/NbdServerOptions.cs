namespace Uvdpa.Vdpa.Nbd;

/// <summary>Settings of an <see cref="NbdServer"/>.</summary>
public sealed record NbdServerOptions
{
    /// <summary>Defaults.</summary>
    public static NbdServerOptions Default { get; } = new();

    /// <summary>
    /// Requests handled at once (default 128, the kernel nbd's tag-set depth per connection). When that many are in
    /// flight the server stops reading the socket, so a peer cannot make it buffer without bound.
    /// </summary>
    public int MaxInFlight { get; init; } = 128;

    /// <summary>
    /// Largest READ/WRITE payload accepted (default 32 MiB: the kernel nbd's max_hw_sectors of 65536). A longer READ
    /// gets EINVAL; a longer WRITE closes the connection (its payload is not read).
    /// </summary>
    public int MaxPayloadBytes { get; init; } = 32 << 20;

    internal void Validate()
    {
        if (MaxInFlight < 1 || MaxInFlight > 65536) throw new ArgumentOutOfRangeException(nameof(MaxInFlight), MaxInFlight, "must be 1..65536");
        if (MaxPayloadBytes < 512 || MaxPayloadBytes > 1 << 30) throw new ArgumentOutOfRangeException(nameof(MaxPayloadBytes), MaxPayloadBytes, "must be 512..1 GiB");
    }
}

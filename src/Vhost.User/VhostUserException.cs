namespace Uvdpa.Vhost.User;

/// <summary>
/// Base of vhost-user errors. <see cref="MustDisconnect"/> says what is still usable: true means the stream or the
/// session state can no longer be trusted and the connection must close (the front-end reconnects); false means only
/// this request failed (it is NACKed when the front-end asked for an ack).
/// </summary>
public abstract class VhostUserException : Exception
{
    private protected VhostUserException(string message, FrontendRequest request) : base(message) => Request = request;

    /// <summary>The request being processed.</summary>
    public FrontendRequest Request { get; }

    /// <summary>True when the connection must be closed.</summary>
    public abstract bool MustDisconnect { get; }
}

/// <summary>A malformed message (header, size, fds, index, unknown or ungated request) or a dead peer: close the connection.</summary>
public sealed class VhostUserProtocolException : VhostUserException
{
    /// <summary>Creates the exception.</summary>
    public VhostUserProtocolException(FrontendRequest request, string message) : base(message, request) { }

    /// <inheritdoc />
    public override bool MustDisconnect => true;
}

/// <summary>A well-formed request the back-end refused (bad address, overlapping regions, device op failed).</summary>
public sealed class VhostUserRequestException : VhostUserException
{
    /// <summary>Creates the exception.</summary>
    public VhostUserRequestException(FrontendRequest request, string message) : base(message, request) { }

    /// <inheritdoc />
    public override bool MustDisconnect => false;
}

using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Vhost.User.Frontend.Tests.Infrastructure;

/// <summary>
/// A scripted, misbehaving back-end on one end of a socket pair: answers the session start like a well-behaved blk
/// back-end, except where <see cref="Override"/> takes a request over (returning true when it handled it).
/// </summary>
internal sealed class FakeBackend : IDisposable
{
    public const ulong Features = (1UL << 32) | (1UL << 30) | (1UL << 28);
    public const ProtocolFeatures Protocol = ProtocolFeatures.Mq | ProtocolFeatures.ReplyAck | ProtocolFeatures.Config;
    private readonly VhostUserConnection _backend;
    private readonly Thread _thread;

    public FakeBackend(Func<VhostUserMessage, VhostUserConnection, bool>? overrideHandler = null)
    {
        var (a, b) = UnixStreamSocket.CreatePair();
        FrontendConnection = new VhostUserConnection(a);
        _backend = new VhostUserConnection(b);
        Override = overrideHandler;
        _thread = new Thread(Serve) { IsBackground = true, Name = "fake vhost-user back-end" };
        _thread.Start();
    }

    /// <summary>The front-end's end (hand it to <see cref="VhostUserFrontend.Start"/>).</summary>
    public VhostUserConnection FrontendConnection { get; }

    public Func<VhostUserMessage, VhostUserConnection, bool>? Override { get; }

    public List<FrontendRequest> Received { get; } = [];

    private void Serve()
    {
        try
        {
            while (true)
            {
                using var m = _backend.Read();
                if (m is null) return;
                lock (Received) Received.Add(m.Request);
                if (Override?.Invoke(m, _backend) == true) continue;
                switch (m.Request)
                {
                    case FrontendRequest.GetFeatures: _backend.ReplyU64(m.Request, Features); break;
                    case FrontendRequest.GetProtocolFeatures: _backend.ReplyU64(m.Request, (ulong)Protocol); break;
                    case FrontendRequest.GetQueueNum: _backend.ReplyU64(m.Request, 1); break;
                    case FrontendRequest.GetConfig:
                        {
                            var reply = (byte[])m.Payload.Clone();
                            reply.AsSpan(VhostUserConfigHeader.Size).Fill(0x11);
                            _backend.Reply(m.Request, reply);
                            break;
                        }
                    case FrontendRequest.GetVringBase:
                        _backend.Reply(m.Request, m.Payload);
                        break;
                    default:
                        if (m.Header.NeedsReply) _backend.ReplyU64(m.Request, 0);
                        break;
                }
            }
        }
        catch (Exception e) when (e is VhostUserException or PlatformException or ObjectDisposedException)
        {
            // The front-end went away mid-message; the test looks at what the front-end saw.
        }
    }

    public void Dispose()
    {
        _backend.Shutdown();
        _thread.Join(TimeSpan.FromSeconds(10));
        _backend.Dispose();
    }
}

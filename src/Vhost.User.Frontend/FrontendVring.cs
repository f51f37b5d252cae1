using Uvdpa.Vdpa.Core;
using Uvdpa.Virtio.Memory;
using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Vhost.User.Frontend;

/// <summary>
/// One virtqueue of a <see cref="VhostUserFrontendDevice"/>: what the driver configured (size, addresses, base, ready,
/// callback) and, while the ring runs on the back-end, its kick and call eventfds and the thread that turns call
/// signals into the driver's callback (vhost's irqfd → vring_interrupt).
/// </summary>
internal sealed class FrontendVring
{
    private readonly int _index;
    private readonly string _deviceName;
    private VdpaCallback? _callback;
    private EventFd? _kick;
    private EventFd? _call;
    private EventFd? _stop;
    private Thread? _callThread;
    private long _calls;

    public FrontendVring(int index, string deviceName)
    {
        _index = index;
        _deviceName = deviceName;
    }

    public uint Num { get; set; }
    public Iova Desc { get; set; }
    public Iova Driver { get; set; }
    public Iova Device { get; set; }
    public bool AddressSet { get; set; }
    public ushort Base { get; set; }
    public bool Ready { get; set; }

    /// <summary>True while the ring runs on the back-end (between start and GET_VRING_BASE).</summary>
    public bool Started { get; private set; }

    /// <summary>Call signals turned into callbacks.</summary>
    public long Calls => Interlocked.Read(ref _calls);

    public VdpaCallback? Callback
    {
        get => Volatile.Read(ref _callback);
        set => Volatile.Write(ref _callback, value);
    }

    /// <summary>The doorbell: one eventfd write. Cheap, any thread; a ring that is not running ignores it.</summary>
    public void Kick() => Volatile.Read(ref _kick)?.Signal();

    /// <summary>
    /// Starts the ring on the back-end in QEMU's order (NUM, BASE, ADDR, then CALL before KICK so no completion can
    /// go unsignalled, ENABLE), then kicks once for buffers made available before the start.
    /// </summary>
    public void Start(VhostUserFrontend frontend, ulong desc, ulong avail, ulong used)
    {
        var kick = EventFd.Create();
        var call = EventFd.Create();
        try
        {
            frontend.SetVringNum(_index, Num);
            frontend.SetVringBase(_index, Base);
            frontend.SetVringAddr(_index, desc, avail, used);
            frontend.SetVringCall(_index, call);
            frontend.SetVringKick(_index, kick);
            if (frontend.ProtocolFeaturesNegotiated) frontend.SetVringEnable(_index, true);
        }
        catch
        {
            kick.Dispose();
            call.Dispose();
            throw;
        }
        _call = call;
        _stop = EventFd.Create(nonBlocking: true);
        _callThread = new Thread(CallLoop) { IsBackground = true, Name = $"vu-fe {_deviceName} vq{_index} call" };
        _callThread.Start();
        Volatile.Write(ref _kick, kick);
        Started = true;
        kick.Signal();
    }

    /// <summary>
    /// Stops the ring: SET_VRING_ENABLE(0) and GET_VRING_BASE (remembered as <see cref="Base"/>) when the connection
    /// still works; the eventfds and the call thread are released either way.
    /// </summary>
    public void Stop(VhostUserFrontend frontend)
    {
        if (!Started) return;
        Started = false;
        var kick = Interlocked.Exchange(ref _kick, null);
        try
        {
            if (frontend.BrokenReason is null)
            {
                if (frontend.ProtocolFeaturesNegotiated) frontend.SetVringEnable(_index, false);
                Base = frontend.GetVringBase(_index);
            }
        }
        finally
        {
            kick?.Dispose();
            StopCallThread();
        }
    }

    private void StopCallThread()
    {
        var call = _call;
        var stop = _stop;
        var thread = _callThread;
        _call = null;
        _stop = null;
        _callThread = null;
        if (call is null || stop is null) return;
        stop.Signal();
        if (thread is not null && thread != Thread.CurrentThread) thread.Join();
        call.Dispose();
        stop.Dispose();
    }

    private void CallLoop()
    {
        var call = _call!;
        var stop = _stop!;
        while (true)
        {
            // Poll, then read: the back-end may switch the shared file description to O_NONBLOCK (libvhost-user
            // does), so a blocking read cannot be relied on. A stop signal wins over a pending call.
            if (FdPoll.WaitReadable(stop.Descriptor, call.Descriptor) != 1) return;
            if (call.Consume() == 0) continue; // spurious (EAGAIN)
            Interlocked.Increment(ref _calls);
            Callback?.Invoke();
        }
    }
}

using Uvdpa.Vdpa.Core;
using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Memory;
using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Vhost.User.Backend;

/// <summary>
/// The vhost-user back-end state machine for one vDPA device, mapping front-end messages onto the device's config
/// ops as drivers/vhost/vdpa.c maps its ioctls. One session (connection) at a time: <see cref="RunSession"/> serves
/// it until end of stream or a protocol error and then resets the device for the next front-end.
/// </summary>
/// <remarks>
/// Address spaces: front-ends never negotiate ACCESS_PLATFORM, the simulators require it. The back-end hides the bit
/// from GET_FEATURES, always sets it towards the device, binds the front-end's regions as the device's memory with
/// pass-through (IOVA = GPA) translation, and translates SET_VRING_ADDR's front-end virtual addresses to GPAs.
/// Status: without PROTOCOL_F_STATUS the back-end drives it: ACK|DRIVER|FEATURES_OK after SET_FEATURES, DRIVER_OK when
/// the first ring starts, reset when the front-end goes away. With STATUS, SET_STATUS/GET_STATUS map onto the device
/// status as VHOST_VDPA_SET_STATUS/GET_STATUS do (bits may only be added; 0 resets), SET_FEATURES still brings the
/// device to FEATURES_OK (so QEMU's "add FEATURES_OK if missing" finds it set), and DRIVER_OK comes from the
/// front-end. SET_STATUS(0) only marks a reset as pending: QEMU 7.2 sends it before GET_VRING_BASE, so the rings keep
/// their device state until they are all stopped (GET_VRING_BASE or SET_VRING_ENABLE(0)), the next SET_FEATURES or
/// SET_STATUS, or the disconnect; only then is the device reset.
/// Inflight tracking (INFLIGHT_SHMFD, offered for blk devices with <see cref="VdpaOptionalOps.InflightTracking"/>):
/// the device reports every request it takes and completes to an <see cref="InflightRegion"/> in the front-end's
/// buffer. When a ring starts with a buffer, the buffer (not SET_VRING_BASE) decides where it starts, as in
/// libvhost-user: at the ring's used index, after the last batch is repaired. The requests that were inflight are
/// then exactly the next available entries (the simulator completes in order, and the back-end checks this against
/// the ring), so the device takes them again, oldest first, before anything new.
/// Not offered: LOG_SHMFD (QEMU then installs a migration blocker), CONFIGURE_MEM_SLOTS, BACKEND_REQ, packed rings.
/// </remarks>
public sealed class VhostUserBackend
{
    /// <summary>VHOST_USER_F_PROTOCOL_FEATURES: the "unused" virtio bit 30.</summary>
    public const int ProtocolFeaturesBit = 30;

    /// <summary>Protocol features this back-end offers.</summary>
    public const ProtocolFeatures OfferedProtocolFeatures = ProtocolFeatures.Mq | ProtocolFeatures.ReplyAck | ProtocolFeatures.Config | ProtocolFeatures.Status;

    private const ulong ProtocolFeaturesMask = 1UL << ProtocolFeaturesBit;
    private const ulong NetControlBits = (1UL << NetFeatures.CtrlVq) | (1UL << NetFeatures.CtrlRx) | (1UL << NetFeatures.CtrlVlan)
        | (1UL << NetFeatures.CtrlRxExtra) | (1UL << NetFeatures.GuestAnnounce) | (1UL << NetFeatures.Mq) | (1UL << NetFeatures.CtrlMacAddr)
        | (1UL << NetFeatures.CtrlGuestOffloads) | (1UL << NetFeatures.Rss) | (1UL << NetFeatures.HashReport);

    private readonly VdpaDevice _device;
    private readonly VdpaConfigOps _ops;
    private readonly ulong _offeredFeatures;
    private readonly bool _offerInflight;
    private readonly bool _busyPoll;
    private readonly Lock _sessionLock = new();

    // ---- session state (touched only by the session thread) ----
    private VhostUserVring[] _rings = [];
    private ProtocolFeatures _ackedProtocol;
    private bool _protocolNegotiated;
    private bool _featuresSet;
    private bool _protocolBitAcked;
    private ulong _deviceFeatures;
    private bool _resetPending;     // SET_STATUS(0) seen, device reset deferred until the rings are stopped
    private InflightRegion? _inflight;
    private GuestMemory _memory = GuestMemory.Empty;

    /// <summary>
    /// Creates the back-end for <paramref name="device"/>; with <paramref name="busyPoll"/> every ring runs in the device's
    /// poll mode (the device must support it) even when the front-end passes a kick fd.
    /// </summary>
    public VhostUserBackend(VdpaDevice device, bool busyPoll = false)
    {
        ArgumentNullException.ThrowIfNull(device);
        _device = device;
        if (busyPoll && !device.Ops.Supports(VdpaOptionalOps.Polling))
            throw new VdpaException(Errno.EOPNOTSUPP, detail: $"vhost_vdpa: {device.Name} cannot poll its rings");
        _busyPoll = busyPoll;
        _ops = device.Ops;
        ulong features = _ops.GetDeviceFeatures();
        ulong hidden = 1UL << VirtioFeatures.AccessPlatform;
        int vrings = device.NumVqs;
        // The control virtqueue is emulated by the front-end (QEMU, virtio_user) and never reaches a vhost-user
        // back-end: hide it and everything that needs it, and do not expose the device's CVQ as a vring.
        if (IsNet && (features & (1UL << NetFeatures.CtrlVq)) != 0)
        {
            hidden |= NetControlBits;
            vrings--;
        }
        _offeredFeatures = (features & ~hidden) | ProtocolFeaturesMask;
        VringCount = vrings;
        _offerInflight = device.DeviceId == (uint)VirtioDeviceId.Block && _ops.Supports(VdpaOptionalOps.InflightTracking);
        OfferedProtocol = OfferedProtocolFeatures | (_offerInflight ? ProtocolFeatures.InflightShmfd : ProtocolFeatures.None);
    }

    /// <summary>Protocol features GET_PROTOCOL_FEATURES reports for this device (blk adds INFLIGHT_SHMFD).</summary>
    public ProtocolFeatures OfferedProtocol { get; }

    /// <summary>Vrings the front-end may use (net: RX/TX pairs without the control queue).</summary>
    public int VringCount { get; }

    /// <summary>Features GET_FEATURES reports (device features without ACCESS_PLATFORM, plus bit 30).</summary>
    public ulong OfferedFeatures => _offeredFeatures;

    /// <summary>The device.</summary>
    public VdpaDevice Device => _device;

    private bool IsNet => _device.DeviceId == (uint)VirtioDeviceId.Net;

    /// <summary>
    /// Serves one front-end until it disconnects or breaks the protocol, then resets the device. Never throws for
    /// anything the peer does; returns the error that ended the session (null on a clean end of stream).
    /// </summary>
    public Exception? RunSession(VhostUserConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        lock (_sessionLock)
        {
            BeginSession();
            try
            {
                while (true)
                {
                    using var message = connection.Read();
                    if (message is null) return null;
                    if (!Dispatch(connection, message)) return new VhostUserRequestException(message.Request, "request failed without a way to report it");
                }
            }
            catch (VhostUserException e)
            {
                return e;
            }
            catch (PlatformException e)
            {
                return e;
            }
            finally
            {
                EndSession();
            }
        }
    }

    private void BeginSession()
    {
        _device.Reset(VdpaDevice.ResetCleanMap);
        _rings = new VhostUserVring[VringCount];
        for (int i = 0; i < _rings.Length; i++) _rings[i] = new VhostUserVring();
        _ackedProtocol = ProtocolFeatures.None;
        _protocolNegotiated = false;
        _featuresSet = false;
        _protocolBitAcked = false;
        _deviceFeatures = 0;
        _resetPending = false;
        _inflight = null;
        _memory = GuestMemory.Empty;
    }

    private void EndSession()
    {
        foreach (var ring in _rings) ring.ReplaceKick(null); // no more doorbells
        _device.Reset(VdpaDevice.ResetCleanMap);
        _ops.BindMemory(GuestMemory.Empty);
        ReplaceInflight(null);
        foreach (var ring in _rings) ring.Dispose();
        foreach (var region in _memory.Regions) region.Dispose();
        _memory = GuestMemory.Empty;
        _rings = [];
    }

    /// <summary>Validates and handles one message; false when a failure could not be reported (the session ends).</summary>
    private bool Dispatch(VhostUserConnection connection, VhostUserMessage message)
    {
        VhostUserValidator.Validate(message, new ValidationContext(VringCount, _ackedProtocol, _protocolNegotiated, _featuresSet));
        var r = message.Request;
        bool hasReply = r is FrontendRequest.GetFeatures or FrontendRequest.GetProtocolFeatures or FrontendRequest.GetVringBase
            or FrontendRequest.GetQueueNum or FrontendRequest.GetConfig or FrontendRequest.GetStatus or FrontendRequest.GetInflightFd;
        bool ack = !hasReply && message.Header.NeedsReply && (_ackedProtocol & ProtocolFeatures.ReplyAck) != 0;
        try
        {
            Handle(connection, message);
        }
        catch (VhostUserRequestException)
        {
            if (!ack) return false;
            connection.ReplyU64(r, 1);
            return true;
        }
        if (ack) connection.ReplyU64(r, 0);
        return true;
    }

    private void Handle(VhostUserConnection c, VhostUserMessage m)
    {
        var r = m.Request;
        switch (r)
        {
            case FrontendRequest.GetFeatures:
                c.ReplyU64(r, _offeredFeatures);
                break;
            case FrontendRequest.SetFeatures:
                SetFeatures(m.ReadU64());
                break;
            case FrontendRequest.GetProtocolFeatures:
                c.ReplyU64(r, (ulong)OfferedProtocol);
                break;
            case FrontendRequest.SetProtocolFeatures:
                {
                    ulong p = m.ReadU64();
                    if ((p & ~(ulong)OfferedProtocol) != 0) Fail(r, $"protocol features 0x{p:x} were not offered");
                    _ackedProtocol = (ProtocolFeatures)p;
                    _protocolNegotiated = true;
                    break;
                }
            case FrontendRequest.SetOwner:
            case FrontendRequest.ResetOwner:
                // SET_OWNER marks the session start (duplicates are harmless); RESET_OWNER is deprecated and must not
                // discard session state (vhost-user.rst).
                break;
            case FrontendRequest.GetQueueNum:
                c.ReplyU64(r, (ulong)(IsNet ? Math.Max(1, VringCount / 2) : VringCount));
                break;
            case FrontendRequest.SetMemTable:
                SetMemTable(m);
                break;
            case FrontendRequest.SetVringNum:
                {
                    var s = m.Read<VhostVringState>();
                    var ring = _rings[s.Index];
                    uint max = Math.Min(32768u, _ops.GetVqNumMax());
                    if (s.Num == 0 || s.Num > max || (s.Num & (s.Num - 1)) != 0) Fail(r, $"vring size {s.Num} is not a power of 2 in 1..{max}");
                    if (ring.Applied) Fail(r, "vring is running");
                    ring.Num = s.Num;
                    break;
                }
            case FrontendRequest.SetVringBase:
                {
                    var s = m.Read<VhostVringState>();
                    var ring = _rings[s.Index];
                    if (s.Num > 0xffff) Fail(r, $"split vring base 0x{s.Num:x} has reserved bits");
                    if (ring.Applied) Fail(r, "vring is running");
                    ring.Base = (ushort)s.Num;
                    break;
                }
            case FrontendRequest.SetVringAddr:
                {
                    var a = m.Read<VhostVringAddr>();
                    var ring = _rings[a.Index];
                    if (ring.Applied) Fail(r, "vring is running");
                    // Check now when memory and size are known (an early error beats a failed start later).
                    if (_memory.Regions.Count > 0 && ring.Num != 0) Translate(r, _memory, a, ring.Num, out _, out _, out _);
                    ring.Address = a;
                    TryStart(r, (int)a.Index);
                    break;
                }
            case FrontendRequest.SetVringKick:
                SetKick(m);
                break;
            case FrontendRequest.SetVringCall:
                {
                    ulong v = m.ReadU64();
                    int i = (int)(v & VringFdIndex.IndexMask);
                    var ring = _rings[i];
                    // NOFD: the front-end polls the used ring; never signal.
                    ring.ReplaceCall((v & VringFdIndex.NoFdFlag) != 0 ? null : EventFd.FromDescriptor(m.TakeDescriptor(0)));
                    if (ring.Applied) _ops.SetVqCallback(i, ring.Call);
                    break;
                }
            case FrontendRequest.SetVringErr:
                {
                    ulong v = m.ReadU64();
                    _rings[(int)(v & VringFdIndex.IndexMask)].ReplaceErr((v & VringFdIndex.NoFdFlag) != 0 ? null : EventFd.FromDescriptor(m.TakeDescriptor(0)));
                    break;
                }
            case FrontendRequest.SetVringEnable:
                {
                    var s = m.Read<VhostVringState>();
                    var ring = _rings[s.Index];
                    ring.Enabled = s.Num == 1;
                    if (ring.Enabled) TryStart(r, (int)s.Index);
                    else
                    {
                        StopOnDevice((int)s.Index);
                        ResetIfStopped();
                    }
                    break;
                }
            case FrontendRequest.GetVringBase:
                {
                    var s = m.Read<VhostVringState>();
                    int i = (int)s.Index;
                    var ring = _rings[i];
                    // Stops the ring: after the reply the back-end must not touch it (vhost-user.rst "Ring states").
                    StopOnDevice(i);
                    ring.KickSet = false;
                    ring.Polling = false;
                    ring.ReplaceKick(null);
                    ResetIfStopped(); // the base is already saved: a deferred reset cannot change the answer
                    c.Send(r, VhostUserHeader.ReplyFlag, new VhostVringState { Index = s.Index, Num = ring.Base });
                    break;
                }
            case FrontendRequest.GetInflightFd:
                {
                    var q = m.Read<VhostUserInflight>();
                    if (_rings.Any(x => x.Applied)) Fail(r, "the inflight buffer cannot change while rings run");
                    InflightRegion region;
                    try
                    {
                        region = InflightRegion.Create(q.NumQueues, q.QueueSize);
                    }
                    catch (PlatformException e)
                    {
                        throw new VhostUserRequestException(r, $"cannot allocate the inflight buffer: {e.Message}");
                    }
                    ReplaceInflight(region);
                    c.Send(r, VhostUserHeader.ReplyFlag, new VhostUserInflight { MmapSize = region.MmapSize, MmapOffset = 0, NumQueues = q.NumQueues, QueueSize = q.QueueSize },
                        [region.Descriptor]);
                    break;
                }
            case FrontendRequest.SetInflightFd:
                SetInflightFd(m);
                break;
            case FrontendRequest.SetStatus:
                SetFrontendStatus((byte)m.ReadU64());
                break;
            case FrontendRequest.GetStatus:
                // A deferred reset is already a reset for the front-end (vhost_vdpa would read 0 after SET_STATUS(0)).
                c.ReplyU64(r, _resetPending ? 0UL : _device.GetStatus());
                break;
            case FrontendRequest.GetConfig:
                {
                    var h = m.Read<VhostUserConfigHeader>();
                    int configSize = _ops.GetConfigSize();
                    if ((ulong)h.Offset + h.ConfigSize > (ulong)configSize)
                    {
                        // A reply with size 0 means error (vhost-user.rst GET_CONFIG).
                        c.Send(r, VhostUserHeader.ReplyFlag, new VhostUserConfigHeader { Offset = h.Offset, ConfigSize = 0, Flags = h.Flags });
                        break;
                    }
                    var reply = new byte[VhostUserConfigHeader.Size + h.ConfigSize];
                    m.Payload.AsSpan(0, VhostUserConfigHeader.Size).CopyTo(reply);
                    // Straight to the op: vdpa_get_config would negotiate features 0 before SET_FEATURES (QEMU blk
                    // reads config at realize).
                    _device.WithConfigLock(d => { d.Ops.GetConfig((int)h.Offset, reply.AsSpan(VhostUserConfigHeader.Size)); return 0; });
                    c.Reply(r, reply);
                    break;
                }
            case FrontendRequest.SetConfig:
                {
                    var h = m.Read<VhostUserConfigHeader>();
                    if ((ulong)h.Offset + h.ConfigSize > (ulong)_ops.GetConfigSize()) Fail(r, "config write beyond the config space");
                    if (h.Flags == VhostUserConfigHeader.FlagMigration) Fail(r, "config writes for live migration are not supported");
                    // Only fields the virtio spec lets a driver write: the config space outlives the session, and a
                    // front-end must not leave the next one a device with another MAC or capacity.
                    if (!IsDriverWritable(h.Offset, h.ConfigSize)) Fail(r, $"config bytes {h.Offset}..{h.Offset + h.ConfigSize - 1} are read-only for a driver");
                    _device.SetConfig((int)h.Offset, m.Payload.AsSpan(VhostUserConfigHeader.Size));
                    break;
                }
            default:
                throw new VhostUserProtocolException(r, $"unsupported request {(uint)r}");
        }
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void Fail(FrontendRequest r, string message) => throw new VhostUserRequestException(r, message);

    private void SetFeatures(ulong features)
    {
        const FrontendRequest r = FrontendRequest.SetFeatures;
        if ((features & ~_offeredFeatures) != 0) Fail(r, $"features 0x{features & ~_offeredFeatures:x} were not offered");
        if (_resetPending) ResetNow();
        ulong toDevice = (features & ~ProtocolFeaturesMask) | (1UL << VirtioFeatures.AccessPlatform);
        bool protocolBit = (features & ProtocolFeaturesMask) != 0;
        if (_featuresSet && toDevice == _deviceFeatures)
        {
            _protocolBitAcked = protocolBit;
            return; // QEMU repeats SET_FEATURES at every start
        }
        if (_rings.Any(x => x.Applied)) Fail(r, "features cannot change while rings run");

        _device.Reset(VdpaDevice.ResetCleanMap);
        if (_memory.Regions.Count > 0) ApplyMemory(_memory);
        _device.SetStatus((byte)DeviceStatus.Acknowledge);
        _device.SetStatus((byte)(DeviceStatus.Acknowledge | DeviceStatus.Driver));
        int err = _device.SetFeatures(toDevice);
        if (err != 0)
        {
            _device.SetStatus((byte)(_device.GetStatus() | (byte)DeviceStatus.Failed));
            _featuresSet = false;
            Fail(r, $"device refused features 0x{toDevice:x} (errno {-err})");
        }
        _device.SetStatus((byte)(DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.FeaturesOk));
        if ((_device.GetStatus() & (byte)DeviceStatus.FeaturesOk) == 0)
        {
            _featuresSet = false;
            Fail(r, "device refused FEATURES_OK");
        }
        _featuresSet = true;
        _deviceFeatures = toDevice;
        _protocolBitAcked = protocolBit;
        for (int i = 0; i < _rings.Length; i++) TryStart(r, i);
    }

    /// <summary>
    /// Driver-writable config fields (VIRTIO 1.3): virtio-blk writeback (offset 32, 1 byte) when CONFIG_WCE is offered
    /// (§5.2.4); nothing in virtio-net's (§5.1.4: all read-only for a non-legacy driver).
    /// </summary>
    private bool IsDriverWritable(uint offset, uint size)
        => _device.DeviceId == (uint)VirtioDeviceId.Block && (_offeredFeatures & (1UL << BlkFeatures.ConfigWce)) != 0
            && offset == VirtioBlkConfig.WritebackOffset && size == 1;

    private void SetInflightFd(VhostUserMessage m)
    {
        const FrontendRequest r = FrontendRequest.SetInflightFd;
        var q = m.Read<VhostUserInflight>();
        ulong needed = q.NumQueues * InflightRegion.QueueRegionSize(q.QueueSize);
        if (q.MmapSize < needed) Fail(r, $"inflight mmap_size {q.MmapSize} is smaller than the {needed} bytes {q.NumQueues} queues of {q.QueueSize} need");
        if ((q.MmapOffset & 0xfff) != 0 || q.MmapOffset > long.MaxValue - needed) Fail(r, $"inflight mmap_offset 0x{q.MmapOffset:x} is not a page-aligned offset");
        if (_rings.Any(x => x.Applied)) Fail(r, "the inflight buffer cannot change while rings run");
        var fd = m.TakeDescriptor(0);
        InflightRegion region;
        try
        {
            CheckInsideFile(r, fd, q.MmapOffset, needed);
            region = InflightRegion.Map(fd, q.MmapOffset, needed, q.NumQueues, q.QueueSize);
        }
        catch (PlatformException e)
        {
            fd.Dispose();
            throw new VhostUserRequestException(r, $"cannot map the inflight buffer: {e.Message}");
        }
        catch (VhostUserRequestException)
        {
            fd.Dispose();
            throw;
        }
        ReplaceInflight(region);
    }

    /// <summary>A shared mapping touched past the end of its file raises SIGBUS: refuse ranges the file does not hold.</summary>
    private static void CheckInsideFile(FrontendRequest r, FileDescriptor fd, ulong offset, ulong size)
    {
        long fileSize = UnixFile.GetSize(fd);
        if (offset > (ulong)fileSize || size > (ulong)fileSize - offset)
            Fail(r, $"range 0x{offset:x}+0x{size:x} lies beyond the end of the passed file ({fileSize} bytes)");
    }

    private void ReplaceInflight(InflightRegion? region)
    {
        if (_offerInflight) _ops.SetInflightTracker(region);
        _inflight?.Dispose();
        _inflight = region;
    }

    /// <summary>
    /// Where ring <paramref name="i"/> starts when an inflight buffer exists: its used index, after checking that the
    /// requests the buffer marks inflight are the next available entries in submission order (then the device takes
    /// them again first). Fails for a corrupt buffer or one this in-order device cannot replay.
    /// </summary>
    private ushort RecoverInflight(FrontendRequest r, InflightRegion inflight, int i, uint num, GuestAddress avail, GuestAddress used)
    {
        using var space = new DmaSpace(_memory);
        using var lease = space.Acquire();
        var v = lease.View;
        ushort availIdx = 0;
        if (!v.TryReadUInt16Acquire(new Iova(used.Value + 2), out ushort usedIdx) || !v.TryReadUInt16Acquire(new Iova(avail.Value + 2), out availIdx))
            Fail(r, $"vring {i} is not readable");
        if (!inflight.Recover(i, (int)num, usedIdx, out var heads, out var error)) Fail(r, $"vring {i}: {error}");
        if (heads.Count > (ushort)(availIdx - usedIdx))
            Fail(r, $"vring {i}: {heads.Count} inflight requests but only {(ushort)(availIdx - usedIdx)} available entries after the used index");
        for (int k = 0; k < heads.Count; k++)
        {
            int slot = (usedIdx + k) & (int)(num - 1);
            if (!v.TryReadUInt16(new Iova(avail.Value + 4 + 2UL * (ulong)slot), out ushort head) || head != heads[k])
                Fail(r, $"vring {i}: inflight request {heads[k]} is not available entry {(ushort)(usedIdx + k)}; cannot resubmit in order");
        }
        return usedIdx;
    }

    private bool StatusNegotiated => (_ackedProtocol & ProtocolFeatures.Status) != 0;

    /// <summary>SET_STATUS with PROTOCOL_F_STATUS: vhost_vdpa_set_status over the device (0 resets, deferred; bits are only added).</summary>
    private void SetFrontendStatus(byte status)
    {
        const FrontendRequest r = FrontendRequest.SetStatus;
        if (status == 0)
        {
            // QEMU 7.2 trap: SET_STATUS(0) precedes GET_VRING_BASE on stop. Resetting now would make GET_VRING_BASE
            // answer 0 instead of the next available index, so only remember it (vhost-user.md §3.8).
            _resetPending = true;
            ResetIfStopped();
            return;
        }
        if (_resetPending) ResetNow();
        byte old = _device.GetStatus();
        // vhost_vdpa_set_status: "Normally, virtio_vdpa_set_status() should not clear bits" (-EINVAL).
        if ((old & ~status) != 0) Fail(r, $"status 0x{status:x2} would clear bits of 0x{old:x2}");
        const byte featureOk = (byte)DeviceStatus.FeaturesOk;
        if ((status & featureOk) != 0 && !_featuresSet) Fail(r, "FEATURES_OK before SET_FEATURES");
        if ((status & (byte)DeviceStatus.DriverOk) != 0 && (status & featureOk) == 0) Fail(r, "DRIVER_OK without FEATURES_OK");
        if (status == old) return;
        _device.SetStatus(status);
        if ((status & featureOk) != 0 && (_device.GetStatus() & featureOk) == 0) Fail(r, "device refused FEATURES_OK");
        if ((status & (byte)DeviceStatus.DriverOk) != 0 && (old & (byte)DeviceStatus.DriverOk) == 0)
        {
            // The device starts now: pick up what the rings already hold.
            for (int i = 0; i < _rings.Length; i++)
            {
                if (_rings[i].Applied) _ops.KickVq(i);
            }
        }
    }

    /// <summary>Performs a deferred SET_STATUS(0) once no ring runs on the device.</summary>
    private void ResetIfStopped()
    {
        if (_resetPending && !_rings.Any(x => x.Applied)) ResetNow();
    }

    /// <summary>The device reset of SET_STATUS(0): rings are stopped first, so their bases survive for GET_VRING_BASE.</summary>
    private void ResetNow()
    {
        for (int i = 0; i < _rings.Length; i++) StopOnDevice(i);
        _device.Reset(VdpaDevice.ResetCleanMap);
        _featuresSet = false;
        _deviceFeatures = 0;
        _resetPending = false;
    }

    private void SetMemTable(VhostUserMessage m)
    {
        const FrontendRequest r = FrontendRequest.SetMemTable;
        int n = (int)m.Read<uint>();
        var wire = new VhostUserMemoryRegion[n];
        for (int i = 0; i < n; i++)
        {
            var w = m.Read<VhostUserMemoryRegion>(VhostUserMemory.HeaderSize + i * VhostUserMemoryRegion.Size);
            if (w.MemorySize == 0) Fail(r, $"region {i} has size 0");
            if (w.MemorySize > long.MaxValue || w.GuestPhysAddr + w.MemorySize < w.GuestPhysAddr || w.UserspaceAddr + w.MemorySize < w.UserspaceAddr
                || w.MmapOffset + w.MemorySize < w.MmapOffset || w.MmapOffset + w.MemorySize > long.MaxValue)
                Fail(r, $"region {i} overflows the address space");
            if ((w.MmapOffset & 0xfff) != 0) Fail(r, $"region {i} mmap_offset 0x{w.MmapOffset:x} is not page aligned");
            for (int j = 0; j < i; j++)
            {
                if (Overlaps(wire[j].GuestPhysAddr, wire[j].MemorySize, w.GuestPhysAddr, w.MemorySize)) Fail(r, $"regions {j} and {i} overlap in guest-physical space");
                if (Overlaps(wire[j].UserspaceAddr, wire[j].MemorySize, w.UserspaceAddr, w.MemorySize)) Fail(r, $"regions {j} and {i} overlap in front-end address space");
            }
            wire[i] = w;
        }

        var regions = new List<MemoryRegion>(n);
        GuestMemory memory;
        try
        {
            for (int i = 0; i < n; i++)
            {
                var w = wire[i];
                CheckInsideFile(r, m.PeekDescriptor(i), w.MmapOffset, w.MemorySize);
            }
            for (int i = 0; i < n; i++)
            {
                var w = wire[i];
                regions.Add(MemoryRegion.FromDescriptor(new GuestAddress(w.GuestPhysAddr), m.TakeDescriptor(i), (long)w.MmapOffset, (long)w.MemorySize,
                    writable: true, frontendStart: new FrontendAddress(w.UserspaceAddr)));
            }
            memory = GuestMemory.Create(regions);
            // Running rings are re-translated against the new table (it may arrive after KICK).
            for (int i = 0; i < _rings.Length; i++)
            {
                var ring = _rings[i];
                if (ring.Applied) Translate(r, memory, ring.Address!.Value, ring.Num, out _, out _, out _);
            }
        }
        catch (Exception e) when (e is PlatformException or ArgumentException or VhostUserRequestException)
        {
            foreach (var region in regions) region.Dispose();
            if (e is VhostUserRequestException) throw;
            throw new VhostUserRequestException(r, $"cannot map the memory table: {e.Message}");
        }

        var old = _memory;
        _memory = memory;
        ApplyMemory(memory);
        for (int i = 0; i < _rings.Length; i++)
        {
            var ring = _rings[i];
            if (!ring.Applied) continue;
            Translate(r, memory, ring.Address!.Value, ring.Num, out var d, out var a, out var u);
            if (d == ring.Desc && a == ring.Avail && u == ring.Used) continue;
            StopOnDevice(i);
            TryStart(r, i);
        }
        foreach (var region in old.Regions) region.Dispose();
    }

    private static bool Overlaps(ulong a, ulong aSize, ulong b, ulong bSize) => a < b + bSize && b < a + aSize;

    /// <summary>Binds the regions as the device's memory and makes IOVA = GPA over them (vhost_vdpa's identity map).</summary>
    private void ApplyMemory(GuestMemory memory)
    {
        int err = _ops.BindMemory(memory);
        if (err != 0) Fail(FrontendRequest.SetMemTable, $"device refused the memory (errno {-err})");
        if (_ops.Supports(VdpaOptionalOps.ResetMap)) err = _ops.ResetMap(0);
        else if (_ops.Supports(VdpaOptionalOps.SetMap))
        {
            var entries = new List<IotlbEntry>();
            foreach (var region in memory.Regions)
            {
                if (IotlbEntry.TryCreate(new Iova(region.Start.Value), (ulong)region.Size, region.Start, AccessPermission.ReadWrite, out var e)) entries.Add(e);
            }
            err = _ops.SetMap(0, entries);
        }
        if (err != 0) Fail(FrontendRequest.SetMemTable, $"device refused the identity mapping (errno {-err})");
    }

    private void SetKick(VhostUserMessage m)
    {
        const FrontendRequest r = FrontendRequest.SetVringKick;
        ulong v = m.ReadU64();
        int i = (int)(v & VringFdIndex.IndexMask);
        var ring = _rings[i];
        bool polling = (v & VringFdIndex.NoFdFlag) != 0;
        if (polling && !_ops.Supports(VdpaOptionalOps.Polling)) Fail(r, "device cannot poll a ring without a kick fd");
        ring.ReplaceKick(polling ? null : new KickRelay(_ops, i, EventFd.FromDescriptor(m.TakeDescriptor(0))));
        ring.KickSet = true;
        bool modeChanged = ring.Polling != polling;
        ring.Polling = polling;
        if (ring.Applied && modeChanged && !_busyPoll) SetMode(r, i, polling);
        TryStart(r, i);
    }

    private void SetMode(FrontendRequest r, int i, bool polling)
    {
        int err = _ops.SetVqNotificationMode(i, polling ? VqNotificationMode.Poll : VqNotificationMode.Kick);
        if (err != 0 && (polling || err != -Errno.EOPNOTSUPP)) Fail(r, $"notification mode change failed (errno {-err})");
    }

    /// <summary>Starts the ring on the device once it is started (KICK), enabled, configured and the features are set.</summary>
    private void TryStart(FrontendRequest r, int i)
    {
        var ring = _rings[i];
        bool enabled = ring.Enabled || (_featuresSet && !_protocolBitAcked);
        if (_resetPending || ring.Applied || !ring.KickSet || !enabled || !_featuresSet || ring.Num == 0 || ring.Address is null || _memory.Regions.Count == 0) return;
        Translate(r, _memory, ring.Address.Value, ring.Num, out var desc, out var avail, out var used);
        var inflight = _inflight is { } region && i < region.NumQueues ? region : null;
        if (inflight is not null) ring.Base = RecoverInflight(r, inflight, i, ring.Num, avail, used);
        _ops.SetVqNum(i, ring.Num);
        int err = _ops.SetVqAddress(i, new Iova(desc.Value), new Iova(avail.Value), new Iova(used.Value));
        if (err == 0) err = _ops.SetVqState(i, new VqState(ring.Base));
        if (err != 0) Fail(r, $"device refused vring {i} (errno {-err})");
        _ops.SetVqCallback(i, ring.Call);
        if (_ops.Supports(VdpaOptionalOps.Polling)) SetMode(r, i, ring.Polling || _busyPoll);
        inflight?.SetActive(i, true);
        _ops.SetVqReady(i, true);
        ring.Desc = desc;
        ring.Avail = avail;
        ring.Used = used;
        ring.Applied = true;
        byte status = _device.GetStatus();
        // With PROTOCOL_F_STATUS the front-end sets DRIVER_OK itself (SET_STATUS); without it the back-end does.
        if (!StatusNegotiated && (status & (byte)DeviceStatus.DriverOk) == 0) _device.SetStatus((byte)(status | (byte)DeviceStatus.DriverOk));
        // Pick up buffers made available before the ring started (QEMU blk kicks every queue after start).
        _ops.KickVq(i);
    }

    /// <summary>Takes the ring away from the device and remembers where it stopped.</summary>
    private void StopOnDevice(int i)
    {
        var ring = _rings[i];
        if (!ring.Applied) return;
        _ops.SetVqReady(i, false);
        _inflight?.SetActive(i, false);
        if (_ops.GetVqState(i, out var state) == 0) ring.Base = state.AvailIndex;
        ring.Applied = false;
    }

    private static void Translate(FrontendRequest r, GuestMemory memory, VhostVringAddr a, uint num, out GuestAddress desc, out GuestAddress avail, out GuestAddress used)
    {
        // Spec: VIRTIO 1.3 §2.7 split ring sizes and alignments (avail and used include the event index word).
        if ((a.DescUserAddr & 15) != 0 || (a.AvailUserAddr & 1) != 0 || (a.UsedUserAddr & 3) != 0) Fail(r, "misaligned vring address");
        if (!memory.TryTranslate(new FrontendAddress(a.DescUserAddr), 16UL * num, out desc)) Fail(r, $"descriptor table 0x{a.DescUserAddr:x} is not inside one region");
        if (!memory.TryTranslate(new FrontendAddress(a.AvailUserAddr), 6 + 2UL * num, out avail)) Fail(r, $"available ring 0x{a.AvailUserAddr:x} is not inside one region");
        if (!memory.TryTranslate(new FrontendAddress(a.UsedUserAddr), 6 + 8UL * num, out used)) Fail(r, $"used ring 0x{a.UsedUserAddr:x} is not inside one region");
    }
}

using System.Net.NetworkInformation;
using Uvdpa.Vdpa.VirtioDriver;
using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Vdpa.Tap;

/// <summary>
/// Exposes a <see cref="VirtioNetDevice"/> to the host's network stack as a TAP interface, as virtio_net's
/// register_netdev does for the kernel's virtio_vdpa: MTU from config space, carrier from the link status, the MAC
/// from config (or a random locally administered one, programmed into the device with VIRTIO_NET_CTRL_MAC_ADDR_SET
/// when config has none). Frames the stack transmits on the interface go to the device's TX queue (start_xmit);
/// frames the device returns on its RX queue go into the stack (netif_receive_skb).
/// </summary>
/// <remarks>
/// Two pumps, each with one reused buffer: a dedicated thread polls the TAP descriptor and sends what it reads; an
/// async loop receives from the device and writes to the TAP. The interface is left administratively down, as a new
/// netdev is; the caller (or the administrator) configures and brings it up. <see cref="Dispose"/> stops both pumps
/// and closes the descriptor, which removes the interface. A removed device ends the pumps; the interface stays
/// until disposal.
/// </remarks>
public sealed class TapBridge : IDisposable
{
    private readonly VirtioNetDevice _net;
    private readonly TapInterface _tap;
    private readonly EventFd _wake;
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _txThread;
    private readonly Task _rxTask;
    private readonly Action<VirtioNetDevice, bool> _onLink;
    private long _txFrames, _rxFrames, _txDropped, _rxDropped;
    private int _disposed;

    private TapBridge(VirtioNetDevice net, TapInterface tap)
    {
        _net = net;
        _tap = tap;
        _wake = EventFd.Create(nonBlocking: true);
        _onLink = (_, up) => TrySetCarrier(up);
        _net.LinkStateChanged += _onLink;
        TrySetCarrier(_net.IsLinkUp); // a change between the first read and the subscription is not lost
        _txThread = new Thread(TxPump) { IsBackground = true, Name = $"tap-tx {tap.Name}" };
        _txThread.Start();
        _rxTask = Task.Run(RxPumpAsync);
    }

    /// <summary>The interface name.</summary>
    public string InterfaceName => _tap.Name;

    /// <summary>The MAC address of the interface (and of the device).</summary>
    public PhysicalAddress MacAddress { get; private init; } = PhysicalAddress.None;

    /// <summary>The device being exposed.</summary>
    public VirtioNetDevice Device => _net;

    /// <summary>Frames read from the interface and queued on the device.</summary>
    public long TxFrames => Volatile.Read(ref _txFrames);

    /// <summary>Frames received from the device and written to the interface.</summary>
    public long RxFrames => Volatile.Read(ref _rxFrames);

    /// <summary>Frames read from the interface that did not fit the device's buffers (shorter than a header or longer than <see cref="VirtioNetDevice.MaxFrameLength"/>).</summary>
    public long TxDropped => Volatile.Read(ref _txDropped);

    /// <summary>Frames from the device the interface refused (e.g. while it is down).</summary>
    public long RxDropped => Volatile.Read(ref _rxDropped);

    /// <summary>
    /// The interface name for a device: the vDPA device name itself. Throws <see cref="ArgumentException"/> when it is
    /// not a valid interface name (longer than <see cref="TapInterface.MaxNameLength"/> bytes, or with '/', ':' or spaces).
    /// </summary>
    public static string DeriveInterfaceName(string deviceName)
    {
        ArgumentNullException.ThrowIfNull(deviceName);
        if (!TapInterface.IsValidName(deviceName))
            throw new ArgumentException(
                $"vDPA device name '{deviceName}' is not a valid interface name (1..{TapInterface.MaxNameLength} bytes, no '/', ':' or spaces); give the TAP a name explicitly",
                nameof(deviceName));
        return deviceName;
    }

    /// <summary>
    /// Creates the TAP interface for <paramref name="net"/> in the calling thread's network namespace and starts the
    /// pumps. <paramref name="interfaceName"/> defaults to <see cref="DeriveInterfaceName"/>. Throws
    /// <see cref="ArgumentException"/> for a bad name and <see cref="PlatformException"/> when the kernel refuses
    /// (EBUSY: an interface of that name exists; EPERM: no CAP_NET_ADMIN).
    /// </summary>
    public static async Task<TapBridge> CreateAsync(VirtioNetDevice net, string? interfaceName = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(net);
        string name = interfaceName ?? DeriveInterfaceName(net.Name);
        if (!TapInterface.IsValidName(name))
            throw new ArgumentException($"'{name}' is not a valid interface name (1..{TapInterface.MaxNameLength} bytes, no '/', ':' or spaces)", nameof(interfaceName));

        // virtnet_probe: a MAC the device provides must be a valid unicast address; otherwise eth_hw_addr_random and,
        // with CTRL_MAC_ADDR, tell the device (virtnet_set_mac_address), so its receive filter accepts our frames.
        byte[] mac = net.MacAddress.GetAddressBytes();
        if (!IsValidUnicast(mac))
        {
            mac = RandomLocalMac();
            if (net.CanSetMac) await net.SetMacAsync(new PhysicalAddress(mac), cancellationToken).ConfigureAwait(false);
        }

        var tap = TapInterface.Create(name);
        try
        {
            tap.SetMacAddress(mac);
            tap.SetMtu(net.Mtu);
            return new TapBridge(net, tap) { MacAddress = new PhysicalAddress(mac) };
        }
        catch
        {
            tap.Dispose();
            throw;
        }
    }

    /// <summary>True for a 6-byte address that is neither all-zero nor multicast/broadcast (is_valid_ether_addr).</summary>
    public static bool IsValidUnicast(ReadOnlySpan<byte> mac)
        => mac.Length == 6 && (mac[0] & 0x01) == 0 && mac.IndexOfAnyExcept((byte)0) >= 0;

    /// <summary>A random locally administered unicast address (eth_random_addr).</summary>
    public static byte[] RandomLocalMac()
    {
        var mac = new byte[6];
        Random.Shared.NextBytes(mac);
        mac[0] = (byte)((mac[0] & 0xfe) | 0x02);
        return mac;
    }

    private void TrySetCarrier(bool up)
    {
        try
        {
            _tap.SetCarrier(up);
        }
        catch (Exception e) when (e is PlatformException or ObjectDisposedException)
        {
            // Closed by Dispose, or a kernel without TUNSETCARRIER: the carrier stays on.
        }
    }

    private void TxPump()
    {
        // A TAP read returns one whole frame, truncated to the buffer: size it for the largest frame the kernel may
        // hand us (MTU + headers), so oversized frames are detected and dropped rather than truncated.
        var buffer = new byte[Math.Max(_net.MaxFrameLength, 65536 + 64)];
        var token = _stop.Token;
        try
        {
            while (!token.IsCancellationRequested && _tap.WaitReadable(_wake))
            {
                while (!token.IsCancellationRequested)
                {
                    int n = _tap.TryRead(buffer);
                    if (n == 0) break;
                    if (n < 0) return;
                    if (n < VirtioNetDevice.EthernetHeaderLength || n > _net.MaxFrameLength)
                    {
                        Interlocked.Increment(ref _txDropped);
                        continue;
                    }
                    var send = _net.SendAsync(buffer.AsMemory(0, n), token);
                    if (send.IsCompletedSuccessfully) send.GetAwaiter().GetResult();
                    else send.AsTask().GetAwaiter().GetResult(); // TX ring full: wait for the device (rare)
                    Interlocked.Increment(ref _txFrames);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or IOException or InvalidOperationException)
        {
            // Stopped, or the device was removed (VirtioDeviceRemovedException) or broke: the pump ends.
        }
    }

    private async Task RxPumpAsync()
    {
        var buffer = new byte[_net.MaxFrameLength];
        var token = _stop.Token;
        try
        {
            while (true)
            {
                int n = await _net.ReceiveAsync(buffer, token).ConfigureAwait(false);
                if (_tap.TryWrite(buffer.AsSpan(0, n))) Interlocked.Increment(ref _rxFrames);
                else Interlocked.Increment(ref _rxDropped);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or IOException or InvalidOperationException)
        {
            // Stopped, or the device was removed or broke.
        }
    }

    /// <summary>Stops both pumps and removes the interface (persistence off, descriptor closed).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _net.LinkStateChanged -= _onLink;
        _stop.Cancel();
        _wake.Signal();
        _txThread.Join();
        try
        {
            _rxTask.GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or IOException or InvalidOperationException)
        {
        }
        try
        {
            _tap.SetPersistent(false);
        }
        catch (PlatformException)
        {
        }
        _tap.Dispose();
        _wake.Dispose();
        _stop.Dispose();
    }

    /// <inheritdoc />
    public override string ToString() => $"tap {InterfaceName} ↔ {_net}";
}

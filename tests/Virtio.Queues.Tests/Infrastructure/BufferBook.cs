using Uvdpa.Virtio.Memory;

namespace Uvdpa.Virtio.Queues.Tests.Infrastructure;

/// <summary>
/// Driver-side bookkeeping for loopback tests: one buffer slot per possible in-flight buffer, varied chains (readable
/// and writable parts, random lengths and gaps) carved from the slot, payload written before add and verified byte for
/// byte after the device returns it. Allocation-free after construction.
/// </summary>
internal sealed class BufferBook
{
    private readonly DmaView _view;
    private readonly ulong _base;
    private readonly ulong _slotBytes;
    private readonly int _maxSegments;
    private readonly int _maxLen;
    private readonly Random _rng;
    private readonly int[] _free;
    private int _freeCount;
    private readonly DescriptorSegment[][] _segs;
    private readonly int[] _segCount;
    private readonly int[] _seq;
    private readonly ulong[] _readable;
    private readonly ulong[] _writable;
    private readonly byte[] _scratch;
    private readonly byte[] _input;
    private int _nextSeq;

    public BufferBook(DmaView driverView, Iova bufferBase, ulong bufferBytes, int slots, int maxSegments, int seed, int maxLen = 700)
    {
        _view = driverView;
        _base = bufferBase.Value;
        _slotBytes = bufferBytes / (ulong)slots;
        _maxSegments = maxSegments;
        _maxLen = (int)Math.Min((ulong)maxLen, _slotBytes / (ulong)maxSegments - 16);
        if (_maxLen < 1) throw new ArgumentException("slots too small");
        _rng = new Random(seed);
        _free = new int[slots];
        for (int i = 0; i < slots; i++) _free[i] = slots - 1 - i;
        _freeCount = slots;
        _segs = new DescriptorSegment[slots][];
        for (int i = 0; i < slots; i++) _segs[i] = new DescriptorSegment[maxSegments];
        _segCount = new int[slots];
        _seq = new int[slots];
        _readable = new ulong[slots];
        _writable = new ulong[slots];
        _scratch = new byte[(int)_slotBytes];
        _input = new byte[(int)_slotBytes];
    }

    public int Verified { get; private set; }

    /// <summary>Limits the number of segments for the next buffers (e.g. to the driver's free descriptors).</summary>
    public int SegmentLimit { get; set; } = int.MaxValue;

    public bool TryTake(out int slot)
    {
        if (_freeCount == 0) { slot = -1; return false; }
        slot = _free[--_freeCount];
        return true;
    }

    public void Release(int slot) => _free[_freeCount++] = slot;

    /// <summary>Generates a chain in <paramref name="slot"/>, writes its payload, returns its segments.</summary>
    public ReadOnlySpan<DescriptorSegment> Prepare(int slot)
    {
        int max = Math.Min(_maxSegments, SegmentLimit);
        int total = _rng.Next(1, max + 1);
        int readable = _rng.Next(0, total + 1);
        ulong cursor = _base + (ulong)slot * _slotBytes;
        ulong rl = 0, wl = 0;
        int seq = _nextSeq++;
        var segs = _segs[slot];
        for (int i = 0; i < total; i++)
        {
            cursor += (ulong)_rng.Next(0, 17);
            int len = _rng.Next(1, _maxLen + 1);
            bool writable = i >= readable;
            segs[i] = new DescriptorSegment(new Iova(cursor), (uint)len, writable);
            var span = _scratch.AsSpan(0, len);
            if (writable)
            {
                span.Fill(0xEE);
                wl += (ulong)len;
            }
            else
            {
                for (int k = 0; k < len; k++) span[k] = Workload.Pattern(seq, (long)rl + k);
                rl += (ulong)len;
            }
            if (!_view.TryWrite(new Iova(cursor), span)) throw new InvalidOperationException("driver could not write its buffer");
            cursor += (ulong)len;
        }
        _segCount[slot] = total;
        _seq[slot] = seq;
        _readable[slot] = rl;
        _writable[slot] = wl;
        return segs.AsSpan(0, total);
    }

    /// <summary>Checks the used length and every byte of the writable part. Throws on mismatch (allocation only then).</summary>
    public void Verify(int slot, uint usedLength)
    {
        ulong rl = _readable[slot], wl = _writable[slot];
        ulong expected = Workload.ExpectedWritten(rl, wl);
        if (usedLength != expected) throw new Xunit.Sdk.XunitException($"slot {slot}: used length {usedLength}, expected {expected}");
        int seq = _seq[slot];
        var input = _input.AsSpan(0, (int)rl);
        for (int k = 0; k < input.Length; k++) input[k] = Workload.Pattern(seq, k);
        var segs = _segs[slot];
        long j = 0;
        for (int i = 0; i < _segCount[slot]; i++)
        {
            var s = segs[i];
            if (!s.DeviceWritable) continue;
            var span = _scratch.AsSpan(0, (int)s.Length);
            if (!_view.TryRead(s.Address, span)) throw new InvalidOperationException("driver could not read its buffer");
            for (int k = 0; k < span.Length; k++, j++)
            {
                byte want = (ulong)j < expected ? Workload.Output(input, j) : (byte)0xEE;
                if (span[k] != want) throw new Xunit.Sdk.XunitException($"slot {slot} seq {seq}: byte {j} is {span[k]:x2}, expected {want:x2}");
            }
        }
        Verified++;
    }
}

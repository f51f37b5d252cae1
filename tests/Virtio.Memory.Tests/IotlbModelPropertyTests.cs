using CsCheck;
using static Uvdpa.Virtio.Memory.Tests.TestMemory;

namespace Uvdpa.Virtio.Memory.Tests;

/// <summary>
/// Random dma_map / dma_unmap / set_map / reset sequences against a reference model: every IOTLB result code and every
/// TryRead / TryWrite / IsAccessible / u16-acquire answer (and the bytes read) must agree with the model.
/// </summary>
public class IotlbModelPropertyTests
{
    // Guest memory: region A = GPA pages [0, 8) writable; hole at pages 8..9; region B = GPA pages [10, 16) read-only.
    private const int APages = 8, BStartPage = 10, BPages = 6, GpaPages = 16;
    private const int IovaPages = 24, MaxEntries = 5;

    private sealed record Probe(ulong Iova, int Length, byte Value, bool Write);

    private sealed record Op(int Kind, (int Iova, int Pages, int Gpa, int Perm) Entry, (int Iova, int Pages, int Gpa, int Perm)[] Set, Probe[] Probes)
    {
        public override string ToString() => Kind switch
        {
            0 => $"Map(iova page {Entry.Iova}, {Entry.Pages} pages -> gpa page {Entry.Gpa}, perm {Entry.Perm})",
            1 => $"Unmap(iova page {Entry.Iova}, {Entry.Pages} pages)",
            2 => $"SetMap([{string.Join(", ", Set.Select(e => $"{e.Iova}+{e.Pages}->{e.Gpa}/{e.Perm}"))}])",
            _ => "Reset",
        } + $" probes [{string.Join(", ", Probes.Select(p => $"{(p.Write ? "W" : "R")} 0x{p.Iova:x}+{p.Length}"))}]";
    }

    private static readonly Gen<(int, int, int, int)> GenEntry =
        Gen.Select(Gen.Int[0, IovaPages - 1], Gen.Int[1, 4], Gen.Int[0, GpaPages + 1], Gen.Int[0, 3]);

    private static readonly Gen<Probe> GenProbe =
        Gen.Select(Gen.Int[0, IovaPages], Gen.OneOf(Gen.Const(0), Gen.Const(1), Gen.Const(Page - 2), Gen.Const(Page - 1), Gen.Int[0, Page - 1]),
                Gen.OneOf(Gen.Int[1, 8], Gen.Int[1, 3 * Page]), Gen.Byte, Gen.Bool)
            .Select((page, off, len, value, write) => new Probe((ulong)page * Page + (ulong)off, len, value, write));

    private static readonly Gen<Op> GenOp =
        Gen.Select(Gen.Frequency((5, Gen.Const(0)), (3, Gen.Const(1)), (1, Gen.Const(2)), (1, Gen.Const(3))),
                GenEntry, GenEntry.Array[0, 4], GenProbe.Array[1, 6])
            .Select((kind, entry, set, probes) => new Op(kind, entry, set, probes));

    /// <summary>The reference: a list of entries in page units, plus pass-through, with the kernel's rules.</summary>
    private sealed class Model
    {
        public bool PassThrough = true;
        public List<(ulong First, ulong Last, ulong Target, AccessPermission Perm)> Entries = [];
        public readonly byte[] Memory = new byte[GpaPages * Page];

        private static bool Intersects(ulong f1, ulong l1, ulong f2, ulong l2) => f1 <= l2 && f2 <= l1;

        public IotlbResult Map(ulong first, ulong last, ulong target, AccessPermission perm)
        {
            if (perm == AccessPermission.None) return IotlbResult.Invalid;
            var current = PassThrough ? [] : Entries;
            if (current.Any(e => Intersects(e.First, e.Last, first, last))) return IotlbResult.Overlap;
            if (current.Count >= MaxEntries) return IotlbResult.NoSpace;
            Entries = [.. current, (first, last, target, perm)];
            PassThrough = false;
            return IotlbResult.Ok;
        }

        public IotlbResult Unmap(ulong first, ulong last)
        {
            Entries = PassThrough ? [] : Entries.Where(e => !Intersects(e.First, e.Last, first, last)).ToList();
            PassThrough = false;
            return IotlbResult.Ok;
        }

        public IotlbResult SetMap(List<(ulong First, ulong Last, ulong Target, AccessPermission Perm)> entries)
        {
            if (entries.Count > MaxEntries) return IotlbResult.NoSpace;
            if (entries.Any(e => e.Perm == AccessPermission.None)) return IotlbResult.Invalid;
            for (int i = 0; i < entries.Count; i++)
                for (int j = i + 1; j < entries.Count; j++)
                    if (Intersects(entries[i].First, entries[i].Last, entries[j].First, entries[j].Last)) return IotlbResult.Invalid;
            Entries = entries;
            PassThrough = false;
            return IotlbResult.Ok;
        }

        public void Reset()
        {
            Entries = [];
            PassThrough = true;
        }

        private static bool InRegion(ulong gpa, out bool writable)
        {
            ulong page = gpa / Page;
            writable = page < APages;
            return page < APages || (page >= BStartPage && page < BStartPage + BPages);
        }

        /// <summary>Translates one IOVA byte; false when unmapped, outside guest memory, or lacking <paramref name="need"/>.</summary>
        public bool Translate(ulong iova, AccessPermission need, out ulong gpa)
        {
            gpa = 0;
            AccessPermission perm;
            if (PassThrough)
            {
                gpa = iova;
                perm = AccessPermission.ReadWrite;
            }
            else
            {
                int i = Entries.FindIndex(e => iova >= e.First && iova <= e.Last);
                if (i < 0) return false;
                gpa = Entries[i].Target + (iova - Entries[i].First);
                perm = Entries[i].Perm;
            }
            if (!InRegion(gpa, out bool writable)) return false;
            if (!writable) perm &= ~AccessPermission.Write;
            return (perm & need) == need;
        }

        public bool Accessible(ulong iova, int length, AccessPermission need)
        {
            for (int k = 0; k < length; k++)
                if (!Translate(iova + (ulong)k, need, out _)) return false;
            return true;
        }
    }

    private static byte Pattern(int gpa) => (byte)(gpa * 31 + (gpa >> 12) * 7 + 1);

    private static (ulong First, ulong Last, ulong Target, AccessPermission Perm) Pages((int Iova, int Pages, int Gpa, int Perm) e)
        => ((ulong)e.Iova * Page, (ulong)(e.Iova + e.Pages) * Page - 1, (ulong)e.Gpa * Page, (AccessPermission)e.Perm);

    [Fact]
    public void RandomMapUnmapSequences_AgreeWithTheModel()
    {
        GenOp.Array[1, 20].Sample(ops =>
        {
            var model = new Model();
            for (int g = 0; g < model.Memory.Length; g++) model.Memory[g] = Pattern(g);

            using var a = MemoryRegion.Anonymous(Gpa(0), APages * Page);
            Poke(a, 0, model.Memory.AsSpan(0, APages * Page));
            using var bWriter = MemoryRegion.Shared(Gpa(0), BPages * Page);
            Poke(bWriter, 0, model.Memory.AsSpan(BStartPage * Page, BPages * Page));
            using var b = MemoryRegion.FromDescriptor(Gpa((ulong)BStartPage * Page), bWriter.Descriptor!.Duplicate(), 0, BPages * Page, writable: false);

            var iotlb = new Iotlb(MaxEntries);
            using var space = new DmaSpace(GuestMemory.Create(a, b), iotlb);

            foreach (var op in ops)
            {
                var e = Pages(op.Entry);
                switch (op.Kind)
                {
                    case 0:
                        Assert.Equal(model.Map(e.First, e.Last, e.Target, e.Perm),
                            iotlb.Map(Iova(e.First), e.Last - e.First + 1, Gpa(e.Target), e.Perm));
                        break;
                    case 1:
                        Assert.Equal(model.Unmap(e.First, e.Last), iotlb.Unmap(Iova(e.First), e.Last - e.First + 1));
                        break;
                    case 2:
                        var set = op.Set.Select(Pages).ToList();
                        Assert.Equal(model.SetMap(set), iotlb.SetMap(set.Select(x => new IotlbEntry(Iova(x.First), Iova(x.Last), Gpa(x.Target), x.Perm))));
                        break;
                    default:
                        model.Reset();
                        iotlb.ResetToPassThrough();
                        break;
                }
                Assert.Equal(model.PassThrough, iotlb.IsPassThrough);

                using var lease = space.Acquire();
                var view = lease.View;
                foreach (var p in op.Probes) CheckProbe(model, view, p);
            }

            // Region B is read-only: whatever happened, its bytes never changed.
            Assert.Equal(model.Memory.AsSpan(BStartPage * Page, BPages * Page).ToArray(), Peek(b, 0, BPages * Page));
            Assert.Equal(model.Memory.AsSpan(0, APages * Page).ToArray(), Peek(a, 0, APages * Page));
        }, iter: 300, print: ops => string.Join("\n", ops.Select(o => o.ToString())));
    }

    private static void CheckProbe(Model model, DmaView view, Probe p)
    {
        var iova = Iova(p.Iova);
        bool readable = model.Accessible(p.Iova, p.Length, AccessPermission.Read);
        bool writable = model.Accessible(p.Iova, p.Length, AccessPermission.Write);
        Assert.Equal(readable, view.IsAccessible(iova, (ulong)p.Length, AccessPermission.Read));
        Assert.Equal(writable, view.IsAccessible(iova, (ulong)p.Length, AccessPermission.Write));

        // Aligned u16 never straddles a page, and every mapping here is page-granular, so it is one segment.
        bool u16Ok = p.Iova % 2 == 0 && model.Accessible(p.Iova, 2, AccessPermission.Read);
        Assert.Equal(u16Ok, view.TryReadUInt16Acquire(iova, out ushort u16));
        if (u16Ok)
        {
            model.Translate(p.Iova, AccessPermission.Read, out ulong g0);
            model.Translate(p.Iova + 1, AccessPermission.Read, out ulong g1);
            Assert.Equal((ushort)(model.Memory[g0] | model.Memory[g1] << 8), u16);
        }

        if (p.Write)
        {
            var data = new byte[p.Length];
            for (int k = 0; k < data.Length; k++) data[k] = (byte)(p.Value + k);
            Assert.Equal(writable, view.TryWrite(iova, data));
            if (writable)
            {
                for (int k = 0; k < data.Length; k++)
                {
                    model.Translate(p.Iova + (ulong)k, AccessPermission.Write, out ulong g);
                    model.Memory[g] = data[k];
                }
            }
        }
        else
        {
            var buf = new byte[p.Length];
            Assert.Equal(readable, view.TryRead(iova, buf));
            if (readable)
            {
                for (int k = 0; k < buf.Length; k++)
                {
                    model.Translate(p.Iova + (ulong)k, AccessPermission.Read, out ulong g);
                    Assert.Equal(model.Memory[g], buf[k]);
                }
            }
        }
    }

    [Fact]
    public void PassThrough_RandomRegionLayouts_FindExactlyTheRegisteredBytes()
    {
        // Random non-overlapping regions (page units) and random probes: an access succeeds iff every byte is in some region.
        var genLayout = Gen.Select(Gen.Int[1, 3], Gen.Int[0, 2]).Array[1, 5];
        var genProbes = Gen.Select(Gen.Int[0, 40 * Page], Gen.Int[1, 2 * Page]).Array[1, 30];
        Gen.Select(genLayout, genProbes).Sample((layout, probes) =>
        {
            var regions = new List<MemoryRegion>();
            ulong next = 0;
            foreach (var (pages, gapBefore) in layout)
            {
                next += (ulong)gapBefore * Page;
                var r = MemoryRegion.Anonymous(Gpa(next), pages * Page);
                Fill(r, (byte)(regions.Count + 1));
                regions.Add(r);
                next += (ulong)pages * Page;
            }
            try
            {
                using var space = new DmaSpace(GuestMemory.Create(regions));
                using var lease = space.Acquire();
                foreach (var (start, length) in probes)
                {
                    bool expected = true;
                    for (ulong x = (ulong)start; x < (ulong)start + (ulong)length && expected; x++)
                        expected = regions.Any(r => r.Contains(Gpa(x), 1));
                    var buf = new byte[length];
                    Assert.Equal(expected, lease.View.TryRead(Iova((ulong)start), buf));
                    if (expected)
                    {
                        for (int k = 0; k < length; k++)
                        {
                            int owner = regions.FindIndex(r => r.Contains(Gpa((ulong)start + (ulong)k), 1));
                            Assert.Equal(owner + 1, buf[k]);
                        }
                    }
                }
            }
            finally
            {
                foreach (var r in regions) r.Dispose();
            }
        }, iter: 200);
    }
}

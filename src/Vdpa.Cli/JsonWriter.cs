using System.Globalization;

namespace Uvdpa.Vdpa.Cli;

/// <summary>
/// A streaming JSON writer with iproute2's exact layout (lib/json_writer.c): commas tracked by a separator
/// character, pretty mode indenting 4 spaces per level with members on their own lines while arrays stay on one
/// line (<c>[ "a","b" ]</c>, empty <c>[ ]</c>), empty objects as <c>{}</c>, and a final newline on
/// <see cref="Finish"/>. Strings are escaped like jsonw_puts: \t \n \r \f \b \\ \" by name, other control
/// characters and DEL as \u00XX, everything else verbatim.
/// </summary>
internal sealed class JsonWriter
{
    private readonly TextWriter _out;
    private int _depth;
    private char _sep; // '\0' or ','

    public JsonWriter(TextWriter output, bool pretty)
    {
        _out = output;
        Pretty = pretty;
    }

    /// <summary>Pretty printing on.</summary>
    public bool Pretty { get; }

    /// <summary>Nesting depth.</summary>
    public int Depth => _depth;

    /// <summary>jsonw_destroy: ends the output with a newline.</summary>
    public void Finish() => _out.Write('\n');

    /// <summary>jsonw_name: a member name (and the ':' after it).</summary>
    public void Name(string name)
    {
        EndOfRecord();
        EndOfLine();
        _sep = '\0';
        WriteString(name);
        _out.Write(':');
        if (Pretty) _out.Write(' ');
    }

    public void StartObject() => Begin('{');

    public void EndObject() => End('}');

    public void StartArray()
    {
        Begin('[');
        if (Pretty) _out.Write(' ');
    }

    public void EndArray()
    {
        if (Pretty && _sep != '\0') _out.Write(' ');
        _sep = '\0';
        End(']');
    }

    public void String(string value)
    {
        EndOfRecord();
        WriteString(value);
    }

    public void UInt(ulong value)
    {
        EndOfRecord();
        _out.Write(value.ToString(CultureInfo.InvariantCulture));
    }

    public void Int(long value)
    {
        EndOfRecord();
        _out.Write(value.ToString(CultureInfo.InvariantCulture));
    }

    public void Bool(bool value)
    {
        EndOfRecord();
        _out.Write(value ? "true" : "false");
    }

    public void Null()
    {
        EndOfRecord();
        _out.Write("null");
    }

    public void StringField(string name, string value)
    {
        Name(name);
        String(value);
    }

    public void UIntField(string name, ulong value)
    {
        Name(name);
        UInt(value);
    }

    public void BoolField(string name, bool value)
    {
        Name(name);
        Bool(value);
    }

    private void Begin(char c)
    {
        EndOfRecord();
        _out.Write(c);
        _depth++;
        _sep = '\0';
    }

    private void End(char c)
    {
        if (_depth == 0) throw new InvalidOperationException("JSON nesting underflow");
        _depth--;
        if (_sep != '\0') EndOfLine();
        _out.Write(c);
        _sep = ',';
    }

    private void EndOfRecord()
    {
        if (_sep != '\0') _out.Write(_sep);
        _sep = ',';
    }

    private void EndOfLine()
    {
        if (!Pretty) return;
        _out.Write('\n');
        for (int i = 0; i < _depth; i++) _out.Write("    ");
    }

    private void WriteString(string s)
    {
        _out.Write('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '\t': _out.Write("\\t"); break;
                case '\n': _out.Write("\\n"); break;
                case '\r': _out.Write("\\r"); break;
                case '\f': _out.Write("\\f"); break;
                case '\b': _out.Write("\\b"); break;
                case '\\': _out.Write("\\\\"); break;
                case '"': _out.Write("\\\""); break;
                default:
                    if (c < 0x20 || c == 0x7f) _out.Write($"\\u{(int)c:x4}");
                    else _out.Write(c);
                    break;
            }
        }
        _out.Write('"');
    }
}

using System.Globalization;

namespace Uvdpa.Vdpa.Cli;

/// <summary>
/// iproute2's json_print.c plus the vdpa tool's indent helper: every print goes either to the JSON writer (when
/// one was opened with -j) or as plain text to stdout. Calls take the already formatted text for the plain case,
/// so each call site shows the exact printf output it mirrors.
/// </summary>
internal sealed class Printer
{
    private readonly TextWriter _out;
    private JsonWriter? _json;
    private int _indent;

    public Printer(TextWriter output) => _out = output;

    /// <summary>is_json_context().</summary>
    public bool IsJson => _json is not null;

    /// <summary>new_json_obj_plain(json): opens the JSON writer when <paramref name="json"/>.</summary>
    public void Start(bool json, bool pretty)
    {
        if (json) _json = new JsonWriter(_out, pretty);
    }

    /// <summary>delete_json_obj_plain(): ends JSON output with its newline.</summary>
    public void Finish()
    {
        _json?.Finish();
        _json = null;
    }

    /// <summary>open_json_object(name): JSON only.</summary>
    public void OpenObject(string? name)
    {
        if (_json is null) return;
        if (name is not null) _json.Name(name);
        _json.StartObject();
    }

    /// <summary>close_json_object(): JSON only.</summary>
    public void CloseObject() => _json?.EndObject();

    /// <summary>open_json_array(PRINT_ANY, name): the key in JSON, the name itself as text.</summary>
    public void OpenArray(string name)
    {
        if (_json is not null)
        {
            _json.Name(name);
            _json.StartArray();
        }
        else
        {
            _out.Write(name);
        }
    }

    /// <summary>close_json_array(PRINT_JSON, NULL): JSON only.</summary>
    public void CloseArray() => _json?.EndArray();

    /// <summary>print_string(PRINT_ANY, key, fmt, value): <paramref name="text"/> is the formatted plain output.</summary>
    public void String(string? key, string text, string value)
    {
        if (_json is not null)
        {
            if (key is null) _json.String(value);
            else _json.StringField(key, value);
        }
        else
        {
            _out.Write(text);
        }
    }

    /// <summary>print_uint/print_u64(PRINT_ANY, key, fmt, value).</summary>
    public void UInt(string? key, string text, ulong value)
    {
        if (_json is not null)
        {
            if (key is null) _json.UInt(value);
            else _json.UIntField(key, value);
        }
        else
        {
            _out.Write(text);
        }
    }

    /// <summary>print_bool(PRINT_ANY, key, fmt, value).</summary>
    public void Bool(string? key, string text, bool value)
    {
        if (_json is not null)
        {
            if (key is null) _json.Bool(value);
            else _json.BoolField(key, value);
        }
        else
        {
            _out.Write(text);
        }
    }

    /// <summary>Plain text only (printf outside the JSON helpers).</summary>
    public void Text(string text) => _out.Write(text);

    /// <summary>print_nl(): a newline in plain mode.</summary>
    public void NewLine()
    {
        if (_json is null) _out.Write('\n');
    }

    /// <summary>inc_indent(): two more spaces.</summary>
    public void IncreaseIndent() => _indent += 2;

    /// <summary>dec_indent().</summary>
    public void DecreaseIndent()
    {
        if (_indent >= 2) _indent -= 2;
    }

    /// <summary>print_indent(): the current indent as spaces (plain printf, also in JSON mode; the tool never calls it there).</summary>
    public void WriteIndent()
    {
        if (_indent > 0) _out.Write(new string(' ', _indent));
    }

    /// <summary>printf("%d") of an unsigned 32-bit value, as the tool does for max_supported_vqs.</summary>
    public static string SignedDecimal(uint value) => unchecked((int)value).ToString(CultureInfo.InvariantCulture);

    /// <summary>Invariant decimal.</summary>
    public static string Decimal(ulong value) => value.ToString(CultureInfo.InvariantCulture);
}

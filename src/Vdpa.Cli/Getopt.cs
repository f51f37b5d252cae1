namespace Uvdpa.Vdpa.Cli;

/// <summary>A long option of <see cref="Getopt"/> (struct option with no_argument; none of the tool's take one).</summary>
/// <param name="Name">The name without the leading "--".</param>
/// <param name="Value">The option character getopt_long returns for it.</param>
internal readonly record struct LongOption(string Name, char Value);

/// <summary>
/// glibc getopt_long for option strings without arguments, as iproute2's vdpa calls it: options may appear anywhere
/// (non-options are permuted to the end, unless POSIXLY_CORRECT is set), "--" ends them, short options cluster
/// (<c>-jp</c>), long options match by unique prefix (<c>--js</c>). Errors print glibc's messages and return '?'.
/// </summary>
internal sealed class Getopt
{
    private readonly string[] _args;
    private readonly string _shortOptions;
    private readonly LongOption[] _longOptions;
    private readonly string _programName;
    private readonly TextWriter _stderr;
    private readonly bool _stopAtNonOption;
    private readonly List<string> _operands = [];
    private int _index;
    private int _clusterPos; // position inside a short-option cluster, 0 when not in one

    public Getopt(string[] args, string shortOptions, LongOption[] longOptions, string programName, TextWriter stderr)
    {
        _args = args;
        _shortOptions = shortOptions;
        _longOptions = longOptions;
        _programName = programName;
        _stderr = stderr;
        _stopAtNonOption = Environment.GetEnvironmentVariable("POSIXLY_CORRECT") is not null;
    }

    /// <summary>
    /// The next option character, '?' after an error (already reported), or -1 when the options are exhausted;
    /// then <see cref="Operands"/> holds the non-option arguments in order.
    /// </summary>
    public int Next()
    {
        if (_clusterPos > 0) return NextInCluster();
        while (_index < _args.Length)
        {
            string a = _args[_index];
            if (a == "--")
            {
                _index++;
                TakeRestAsOperands();
                return -1;
            }
            if (a.StartsWith("--", StringComparison.Ordinal))
            {
                _index++;
                return LongOptionAt(a[2..]);
            }
            if (a.Length > 1 && a[0] == '-')
            {
                _clusterPos = 1;
                return NextInCluster();
            }
            if (_stopAtNonOption)
            {
                TakeRestAsOperands();
                return -1;
            }
            _operands.Add(a);
            _index++;
        }
        return -1;
    }

    /// <summary>The non-option arguments (valid once <see cref="Next"/> returned -1).</summary>
    public IReadOnlyList<string> Operands => _operands;

    private void TakeRestAsOperands()
    {
        for (; _index < _args.Length; _index++) _operands.Add(_args[_index]);
    }

    private int NextInCluster()
    {
        string a = _args[_index];
        char c = a[_clusterPos++];
        if (_clusterPos >= a.Length)
        {
            _clusterPos = 0;
            _index++;
        }
        if (c == ':' || !_shortOptions.Contains(c, StringComparison.Ordinal))
        {
            _stderr.Write($"{_programName}: invalid option -- '{c}'\n");
            return '?';
        }
        return c;
    }

    // glibc process_long_option: exact match first, else a unique prefix.
    private int LongOptionAt(string text)
    {
        int eq = text.IndexOf('=', StringComparison.Ordinal);
        string name = eq >= 0 ? text[..eq] : text;
        LongOption? found = null;
        foreach (LongOption o in _longOptions)
        {
            if (o.Name == name)
            {
                found = o;
                break;
            }
        }
        if (found is null)
        {
            var candidates = new List<LongOption>();
            foreach (LongOption o in _longOptions)
                if (o.Name.StartsWith(name, StringComparison.Ordinal)) candidates.Add(o);
            if (candidates.Count == 1)
            {
                found = candidates[0];
            }
            else if (candidates.Count > 1)
            {
                var sb = new System.Text.StringBuilder();
                sb.Append($"{_programName}: option '--{name}' is ambiguous; possibilities:");
                foreach (LongOption o in candidates) sb.Append($" '--{o.Name}'");
                sb.Append('\n');
                _stderr.Write(sb.ToString());
                return '?';
            }
        }
        if (found is not LongOption f)
        {
            _stderr.Write($"{_programName}: unrecognized option '--{text}'\n");
            return '?';
        }
        if (eq >= 0)
        {
            _stderr.Write($"{_programName}: option '--{f.Name}' doesn't allow an argument\n");
            return '?';
        }
        return f.Value;
    }
}

using System.Text;
using Uvdpa.Vdpa.Cli;

// Thin host: buffered UTF-8 stdout/stderr (no BOM), flushed once at exit, like stdio.
var utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);
using var stdout = new StreamWriter(Console.OpenStandardOutput(), utf8, 4096) { AutoFlush = false, NewLine = "\n" };
using var stderr = new StreamWriter(Console.OpenStandardError(), utf8, 1024) { AutoFlush = true, NewLine = "\n" };
int rc = CliApp.Run(args, stdout, stderr);
stdout.Flush();
return rc;

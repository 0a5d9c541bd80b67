using System.Globalization;
using System.Text;

namespace Tokenflow.LlamaCpp.Grammar;

/// <summary>
/// Grammar for the decimal integers in a range, digit by digit (the algorithm of llama.cpp's
/// <c>build_min_max_int</c>): <c>[3, 42]</c> becomes <c>[3-9] | [1-3] [0-9] | "4" [0-2]</c>.
/// </summary>
internal static class IntegerRange
{
    /// <summary>
    /// Appends the alternatives for the integers from <paramref name="min"/> to <paramref name="max"/>
    /// (<see cref="long.MinValue"/>/<see cref="long.MaxValue"/> = unbounded) to <paramref name="output"/>,
    /// with at most <paramref name="digits"/> digits where a side is unbounded.
    /// </summary>
    public static void Build(long min, long max, StringBuilder output, int digits, bool topLevel)
    {
        var hasMin = min != long.MinValue;
        var hasMax = max != long.MaxValue;

        if (hasMin && hasMax)
        {
            if (min < 0 && max < 0)
            {
                output.Append("\"-\" ( ");
                Build(-max, -min, output, digits, topLevel: true);
                output.Append(" )");
                return;
            }

            if (min < 0)
            {
                output.Append("\"-\" ( ");
                Build(0, -min, output, digits, topLevel: true);
                output.Append(" ) | ");
                min = 0;
            }

            var minText = min.ToString(CultureInfo.InvariantCulture);
            var maxText = max.ToString(CultureInfo.InvariantCulture);
            for (var length = minText.Length; length < maxText.Length; length++)
            {
                UniformRange(minText, new string('9', length), output);
                minText = "1" + new string('0', length);
                output.Append(" | ");
            }

            UniformRange(minText, maxText, output);
            return;
        }

        var lessDigits = Math.Max(digits - 1, 1);
        if (hasMin)
        {
            if (min < 0)
            {
                output.Append("\"-\" ( ");
                Build(long.MinValue, -min, output, digits, topLevel: false);
                output.Append(" ) | [0] | [1-9] ");
                MoreDigits(0, digits - 1, output);
            }
            else if (min == 0)
            {
                if (topLevel)
                {
                    output.Append("[0] | [1-9] ");
                    MoreDigits(0, lessDigits, output);
                }
                else
                {
                    MoreDigits(1, digits, output);
                }
            }
            else if (min <= 9)
            {
                var c = (char)('0' + min);
                var rangeStart = topLevel ? '1' : '0';
                if (c > rangeStart)
                {
                    DigitRange(rangeStart, (char)(c - 1), output);
                    output.Append(' ');
                    MoreDigits(1, lessDigits, output);
                    output.Append(" | ");
                }

                DigitRange(c, '9', output);
                output.Append(' ');
                MoreDigits(0, lessDigits, output);
            }
            else
            {
                var minText = min.ToString(CultureInfo.InvariantCulture);
                var length = minText.Length;
                var c = minText[0];
                if (c > '1')
                {
                    DigitRange(topLevel ? '1' : '0', (char)(c - 1), output);
                    output.Append(' ');
                    MoreDigits(length, lessDigits, output);
                    output.Append(" | ");
                }

                DigitRange(c, c, output);
                output.Append(" ( ");
                Build(long.Parse(minText.AsSpan(1), CultureInfo.InvariantCulture), long.MaxValue, output, lessDigits, topLevel: false);
                output.Append(" )");
                if (c < '9')
                {
                    output.Append(" | ");
                    DigitRange((char)(c + 1), '9', output);
                    output.Append(' ');
                    MoreDigits(length - 1, lessDigits, output);
                }
            }

            return;
        }

        if (hasMax)
        {
            if (max >= 0)
            {
                if (topLevel)
                {
                    output.Append("\"-\" [1-9] ");
                    MoreDigits(0, lessDigits, output);
                    output.Append(" | ");
                }

                Build(0, max, output, digits, topLevel: true);
            }
            else
            {
                output.Append("\"-\" ( ");
                Build(-max, long.MaxValue, output, digits, topLevel: false);
                output.Append(" )");
            }

            return;
        }

        throw new ArgumentException("At least one bound must be set.");
    }

    private static void DigitRange(char from, char to, StringBuilder output)
    {
        output.Append('[').Append(from);
        if (from != to)
        {
            output.Append('-').Append(to);
        }

        output.Append(']');
    }

    private static void MoreDigits(int min, int max, StringBuilder output)
    {
        output.Append("[0-9]");
        if (min == max && min == 1)
        {
            return;
        }

        output.Append('{').Append(min);
        if (max != min)
        {
            output.Append(',');
            if (max != int.MaxValue)
            {
                output.Append(max);
            }
        }

        output.Append('}');
    }

    /// <summary>The numbers from <paramref name="from"/> to <paramref name="to"/>, both of the same length.</summary>
    private static void UniformRange(string from, string to, StringBuilder output)
    {
        var i = 0;
        while (i < from.Length && i < to.Length && from[i] == to[i])
        {
            i++;
        }

        if (i > 0)
        {
            output.Append('"').Append(from, 0, i).Append('"');
        }

        if (i >= from.Length || i >= to.Length)
        {
            return;
        }

        if (i > 0)
        {
            output.Append(' ');
        }

        var subLength = from.Length - i - 1;
        if (subLength == 0)
        {
            output.Append('[').Append(from[i]).Append('-').Append(to[i]).Append(']');
            return;
        }

        var fromSub = from[(i + 1)..];
        var toSub = to[(i + 1)..];
        var zeros = new string('0', subLength);
        var nines = new string('9', subLength);
        var toReached = false;
        output.Append("( ");
        if (fromSub == zeros)
        {
            DigitRange(from[i], (char)(to[i] - 1), output);
            output.Append(' ');
            MoreDigits(subLength, subLength, output);
        }
        else
        {
            output.Append('[').Append(from[i]).Append("] ( ");
            UniformRange(fromSub, nines, output);
            output.Append(" )");
            if (from[i] < to[i] - 1)
            {
                output.Append(" | ");
                if (toSub == nines)
                {
                    DigitRange((char)(from[i] + 1), to[i], output);
                    toReached = true;
                }
                else
                {
                    DigitRange((char)(from[i] + 1), (char)(to[i] - 1), output);
                }

                output.Append(' ');
                MoreDigits(subLength, subLength, output);
            }
        }

        if (!toReached)
        {
            output.Append(" | ");
            DigitRange(to[i], to[i], output);
            output.Append(' ');
            UniformRange(zeros, toSub, output);
        }

        output.Append(" )");
    }
}

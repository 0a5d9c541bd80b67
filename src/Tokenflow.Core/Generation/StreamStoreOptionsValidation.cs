using Microsoft.Extensions.Options;
using Tokenflow.Core.Streams;

namespace Tokenflow.Core.Generation;

/// <summary>
/// Checks the durations of <see cref="StreamStoreOptions"/>, which data annotations cannot express; each
/// failure names its setting under <see cref="TokenflowCoreServiceCollectionExtensions.StreamsSection"/>.
/// </summary>
internal sealed class StreamStoreOptionsValidation : IValidateOptions<StreamStoreOptions>
{
    public ValidateOptionsResult Validate(string? name, StreamStoreOptions options)
    {
        var builder = new ValidateOptionsResultBuilder();
        NotNegative(builder, nameof(options.CompletedTtl), options.CompletedTtl);
        NotNegative(builder, nameof(options.ResumeGrace), options.ResumeGrace);
        if (options.SweepInterval <= TimeSpan.Zero)
        {
            builder.AddError($"{TokenflowCoreServiceCollectionExtensions.StreamsSection}:{nameof(options.SweepInterval)} must be positive; it is {options.SweepInterval}.");
        }

        return builder.Build();
    }

    private static void NotNegative(ValidateOptionsResultBuilder builder, string setting, TimeSpan value)
    {
        if (value < TimeSpan.Zero)
        {
            builder.AddError($"{TokenflowCoreServiceCollectionExtensions.StreamsSection}:{setting} must not be negative; it is {value}.");
        }
    }
}

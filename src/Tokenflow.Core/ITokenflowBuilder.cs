using Microsoft.Extensions.DependencyInjection;

namespace Tokenflow.Core;

/// <summary>
/// What <c>AddTokenflow()</c> (and <c>AddTokenflowCore()</c>) return: the service collection Tokenflow
/// is registered in, for extension methods that add a store or backends (<c>.AddRedisStore(…)</c>,
/// <c>.AddLlamaCpp(…)</c>). Those methods may be called in any order; each replaces or adds its part.
/// </summary>
public interface ITokenflowBuilder
{
    /// <summary>The service collection Tokenflow's services are registered in.</summary>
    IServiceCollection Services { get; }
}

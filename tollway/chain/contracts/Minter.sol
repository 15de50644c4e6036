// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Manager} from "./Manager.sol";

/// @title Devnet Minter: the protocol's vault and its LPT issuance.
/// @notice Custodies the ETH senders fund in the TicketBroker (paid out as fees and withdrawals)
/// and the LPT bonded in the BondingManager, and mints each round's rewards.
/// Devnet simplification: a fixed `mintablePerRound` instead of Livepeer's inflation schedule
/// that tracks a target bonding rate.
contract Minter is Manager {
    uint256 public immutable mintablePerRound;
    uint256 public currentMintableTokens;
    uint256 public currentMintedTokens;

    event SetCurrentRewardTokens(uint256 currentMintableTokens);

    constructor(address _controller, uint256 _mintablePerRound) Manager(_controller) {
        mintablePerRound = _mintablePerRound;
    }

    /// @notice Mints `currentMintableTokens * _fracNum / _fracDenom` LPT to this contract (the
    /// BondingManager adds it to the caller's stake), never more than is left this round.
    function createReward(uint256 _fracNum, uint256 _fracDenom)
        external
        whenSystemNotPaused
        onlyContract(BONDING_MANAGER, "caller must be BondingManager")
        returns (uint256 amount)
    {
        if (_fracDenom == 0) {
            return 0;
        }
        amount = currentMintableTokens * _fracNum / _fracDenom;
        uint256 left = currentMintableTokens - currentMintedTokens;
        if (amount > left) {
            amount = left;
        }
        currentMintedTokens += amount;
        _token().mint(address(this), amount);
    }

    /// @notice Pays out bonded LPT (withdrawStake).
    function trustedTransferTokens(address _to, uint256 _amount)
        external
        whenSystemNotPaused
        onlyContract(BONDING_MANAGER, "caller must be BondingManager")
    {
        require(_token().transfer(_to, _amount), "token transfer failed");
    }

    /// @notice Pays out ETH: fees (BondingManager) or a sender's withdrawal (TicketBroker).
    function trustedWithdrawETH(address payable _to, uint256 _amount) external whenSystemNotPaused {
        require(
            msg.sender == controller.getContract(BONDING_MANAGER)
                || msg.sender == controller.getContract(TICKET_BROKER),
            "caller must be BondingManager or TicketBroker"
        );
        (bool ok,) = _to.call{value: _amount}("");
        require(ok, "ETH transfer failed");
    }

    /// @notice Receives the ETH senders fund in the TicketBroker.
    function depositETH()
        external
        payable
        whenSystemNotPaused
        onlyContract(TICKET_BROKER, "caller must be TicketBroker")
        returns (bool)
    {
        return true;
    }

    /// @notice Opens a new round's issuance (RoundsManager.initializeRound).
    function setCurrentRewardTokens()
        external
        whenSystemNotPaused
        onlyContract(ROUNDS_MANAGER, "caller must be RoundsManager")
    {
        currentMintableTokens = mintablePerRound;
        currentMintedTokens = 0;
        emit SetCurrentRewardTokens(mintablePerRound);
    }
}
